package listeners

import (
	"os"

	"golang.org/x/sys/unix"

	"echogate/internal/logmsg"
)

// UDP receive offload (UDP_GRO, Linux 5.0). A peer that sends its datagrams with UDP_SEGMENT (as QUIC stacks
// and echoload -gso do), or a NIC whose GRO merges a flow's datagrams, hands the kernel one large packet of
// equal segments. A socket without UDP_GRO makes the kernel cut it up again on arrival and queue every
// datagram on its own; with UDP_GRO the packet is queued whole, and one receive slot holds a run of
// datagrams, with a control message that gives their size (the last one may be shorter). echogate splits
// the run and answers each datagram exactly as if it had come alone: the same admission, rate limits, loop
// guard, max_datagram and reply budget, one by one, in order; the replies then go out as UDP_SEGMENT runs
// again (udp_gso.go). Only echo sockets ask for it: a STAMP test packet needs the kernel's receive time of
// its own.
//
// A coalesced read is never cut by the kernel (the receive buffer is always 64 KiB on such a socket), so
// max_datagram is applied to each datagram here. A datagram of a run may be answered with more bytes than
// it holds (a /whoami reply): the next datagram follows it in the buffer, so such a reply is written to the
// batch's spill buffer instead, which is emptied each time the queued replies are sent.

// spillSize is the batch's spill buffer: room for two replies of the largest datagram.
const spillSize = 2 * maxDatagram

// setGRO asks the kernel to queue coalesced datagrams whole on u's socket (on) or to cut them up (off).
// Where the kernel cannot, the socket receives datagrams one by one, as before.
func (u *udpEndpoint) setGRO(l *Loop, on bool) {
	v := 0
	if on {
		v = 1
	}
	if err := unix.SetsockoptInt(u.fd, unix.SOL_UDP, unix.UDP_GRO, v); err != nil {
		u.gro = false
		if on {
			l.log.Warn(logmsg.NoGRO, "event", "coalesced datagrams are cut up by the kernel", "listener", u.name,
				"err", os.NewSyscallError("setsockopt UDP_GRO", err))
		}
		return
	}
	u.gro = on
}

// makeSpill gives the batch its spill buffer, once a socket has UDP_GRO on (asked for, or found on a socket
// passed on).
func (b *udpBatch) makeSpill() {
	if b.spill == nil {
		b.spill = make([]byte, spillSize)
	}
}

// groEnabled reports whether the socket fd has UDP_GRO on (false where the kernel cannot say).
func groEnabled(fd int) bool {
	v, err := unix.GetsockoptInt(fd, unix.SOL_UDP, unix.UDP_GRO)
	return err == nil && v != 0
}

// drainRunsBatches bounds drainRuns: 64 batches of up to 32 datagrams, more than a default receive buffer
// holds, so that a reload never waits long on a socket flooded faster than the loop can drain it.
const drainRunsBatches = 64

// drainRuns answers, with UDP_GRO still on, what the socket holds before the option is turned off: the kernel
// gives a run's datagram size only while the option is on, so a run queued before would afterwards be read as
// one large datagram. It is answered by the protocol the endpoint has now (a reload to mode "stamp" reflects
// each datagram of the run as a test packet, with the run's one receive time). What arrives after the option
// is off is cut up by the kernel on arrival.
func (u *udpEndpoint) drainRuns(l *Loop) { u.serveBatches(l, drainRunsBatches) }

// answerCoalesced answers the run of datagrams in receive slot i, each rx.segSize bytes but the last, one by
// one, and queues their replies from reply slot replies on, sending the queue whenever it is full. It returns
// how many replies are queued.
func (u *udpEndpoint) answerCoalesced(l *Loop, b *udpBatch, i int, ctl []byte, rx rxControl, replies int) int {
	run := b.bufs[i][:min(int(b.hdrs[i].Len), len(b.bufs[i]))]
	for off := 0; off < len(run); off += rx.segSize {
		if replies == udpBatchSize || len(b.spill)-b.spilled < maxDatagram {
			u.sendQueued(b, replies)
			replies = 0
		}
		end := min(off+rx.segSize, len(run))
		size := end - off
		u.stats.UDPCoalesced++
		// The datagram's capacity ends where the next one starts: a longer reply goes to the spill buffer.
		data := run[off : off+min(size, u.pol.MaxDatagram) : end]
		if reply, ok := u.answer(l, b, i, data, size, ctl, rx); ok {
			b.queueReply(replies, i, reply, u.replyControl(b, i, ctl))
			replies++
		}
	}
	return replies
}

// spillReply copies reply into the batch's spill buffer and returns the copy, or reports false when there
// is no room.
func (b *udpBatch) spillReply(reply []byte) ([]byte, bool) {
	if len(reply) > len(b.spill)-b.spilled {
		return nil, false
	}
	out := b.spill[b.spilled : b.spilled+len(reply) : b.spilled+len(reply)]
	b.spilled += copy(out, reply)
	return out, true
}

// segments is how many datagrams a receive slot of size bytes holds: one, or a coalesced run of segSize ones.
func segments(size, segSize int) int {
	if segSize <= 0 || size <= segSize {
		return 1
	}
	return (size + segSize - 1) / segSize
}
