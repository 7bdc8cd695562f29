package listeners

import (
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpBatchSize is how many datagrams one recvmmsg/sendmmsg call moves.
const udpBatchSize = 32

// udpBatch holds the preallocated headers and buffers for recvmmsg and sendmmsg. The loop owns one, shared by
// every UDP socket, so a UDP listener costs no memory of its own beyond its peer table.
type udpBatch struct {
	hdrs   [udpBatchSize]unix.Mmsghdr
	names  [udpBatchSize]unix.RawSockaddrAny
	iovs   [udpBatchSize]unix.Iovec
	bufs   [udpBatchSize][]byte
	out    [udpBatchSize]unix.Mmsghdr
	outIov [udpBatchSize]unix.Iovec
	ctl    [udpBatchSize][udpCtlSize]byte // control messages: pktinfo, TTL, TOS, receive time (udp_control.go)
	used   int                            // headers the last recvmmsg filled in
	limit  int                            // the iovec length now set
	ctlOn  int                            // headers whose Control now points at ctl
	gso    gsoBatch                       // the replies grouped for segmentation offload (udp_gso.go)

	// spill holds the replies that do not fit over their datagram in a coalesced run (udp_gro.go), up to
	// spilled; it is made with the first socket that asks for UDP_GRO.
	spill   []byte
	spilled int

	// replyCtl is the control messages of a reply with a TOS of its own: its pktinfo and TOS (udp_tos.go).
	replyCtl [udpBatchSize][replyCtlMax]byte
}

// maxDatagram is the largest UDP payload there is.
const maxDatagram = 65535

func newUDPBatch() *udpBatch {
	b := &udpBatch{}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, maxDatagram)
		b.iovs[i].Base = &b.bufs[i][0]
		h := &b.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Namelen = unix.SizeofSockaddrAny
		h.Iov = &b.iovs[i]
		h.Iovlen = 1
	}
	b.used = len(b.hdrs)
	return b
}

// udpBatch returns the loop's batch, making it when the first UDP socket needs it.
func (l *Loop) udpBatch() *udpBatch {
	if l.udpIO == nil {
		l.udpIO = newUDPBatch()
	}
	return l.udpIO
}

// receive reads up to vlen datagrams, each cut at limit bytes (MSG_TRUNC is set on longer ones), with their
// control messages when ctl is set. One datagram without them is read with recvfrom(2), which costs the
// kernel less than a recvmmsg(2) of one.
func (b *udpBatch) receive(fd, vlen, limit int, ctl bool) (int, error) {
	switch {
	case vlen <= 1 && !ctl:
		return b.receiveOne(fd, limit)
	case vlen <= 1:
		return b.receiveOneMsg(fd, limit)
	}
	vlen = min(max(vlen, 1), udpBatchSize)
	switch {
	case ctl:
		b.setControl(vlen, true)
		b.ctlOn = max(b.ctlOn, vlen)
	case b.ctlOn > 0:
		b.setControl(b.ctlOn, false)
		b.ctlOn = 0
	}
	limit = min(max(limit, 1), maxDatagram)
	if limit != b.limit {
		for i := range b.iovs {
			b.iovs[i].SetLen(limit)
		}
		b.limit = limit
	}
	for i := range b.used { // only the headers the kernel wrote last time need resetting
		h := &b.hdrs[i].Hdr
		h.Namelen = unix.SizeofSockaddrAny
		h.Flags = 0
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.hdrs[0])),
		uintptr(vlen), unix.MSG_TRUNC, 0, 0)
	if errno != 0 {
		b.used = 0
		return 0, recvError("recvmmsg", errno)
	}
	b.used = int(n)
	return int(n), nil
}

// recvError is the error of a failed receive. EAGAIN, which ends every wake-up of a socket, is returned as
// it is: wrapping it would allocate once per wake-up.
func recvError(call string, errno unix.Errno) error {
	if errno == unix.EAGAIN {
		return unix.EAGAIN
	}
	return os.NewSyscallError(call, errno)
}

// queueReply sets reply slot j to send reply to the sender of datagram i, from the address in ctl if any.
func (b *udpBatch) queueReply(j, i int, reply []byte, ctl []byte) {
	b.outIov[j].Len = 0
	if len(reply) > 0 {
		b.outIov[j].Base = &reply[0]
	} else {
		b.outIov[j].Base = &b.bufs[i][0]
	}
	b.outIov[j].SetLen(len(reply))
	h := &b.out[j].Hdr
	h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	h.Namelen = b.hdrs[i].Hdr.Namelen
	h.Iov = &b.outIov[j]
	h.Iovlen = 1
	h.Control = nil
	h.Controllen = 0
	if len(ctl) > 0 {
		h.Control = &ctl[0]
		h.SetControllen(len(ctl))
	}
	h.Flags = 0
	b.out[j].Len = 0
}

// receiveOne reads one datagram into slot 0, filling in its header as recvmmsg would.
func (b *udpBatch) receiveOne(fd, limit int) (int, error) {
	limit = min(max(limit, 1), maxDatagram)
	namelen := uint32(unix.SizeofSockaddrAny)
	r, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b.bufs[0][0])),
		uintptr(limit), unix.MSG_TRUNC, uintptr(unsafe.Pointer(&b.names[0])), uintptr(unsafe.Pointer(&namelen)))
	if errno != 0 {
		return 0, recvError("recvfrom", errno)
	}
	h := &b.hdrs[0]
	h.Len = uint32(r) // with MSG_TRUNC, the datagram's real length
	h.Hdr.Namelen = namelen
	h.Hdr.Flags = 0
	if int(r) > limit {
		h.Hdr.Flags = unix.MSG_TRUNC
	}
	b.used = max(b.used, 1)
	return 1, nil
}

// send writes the first n queued replies: one with sendto(2), more with sendmmsg(2). It returns how many
// went out and how many bytes they held. A reply the kernel refuses (an unreachable peer, a full socket
// buffer) is dropped: UDP has no backpressure, and the loop must not wait.
func (b *udpBatch) send(fd, n int) (sent int, bytes uint64) {
	if n == 1 && b.out[0].Hdr.Controllen == 0 {
		h := &b.out[0].Hdr
		_, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(b.outIov[0].Base)),
			uintptr(b.outIov[0].Len), unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(h.Name)), uintptr(h.Namelen))
		if errno != 0 {
			return 0, 0
		}
		return 1, b.outIov[0].Len
	}
	for next := 0; next < n; {
		r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.out[next])),
			uintptr(n-next), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case errno == unix.EINTR:
			continue
		case errno != 0:
			next++ // the first datagram failed: skip it and go on with the rest
			continue
		case r == 0:
			return sent, bytes
		}
		for i := next; i < next+int(r); i++ {
			bytes += b.outIov[i].Len
		}
		sent += int(r)
		next += int(r)
	}
	return sent, bytes
}

// rawAddrPort converts a kernel socket address to a netip.AddrPort without allocating.
func rawAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), netToHost(p.Port))
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom16(p.Addr), netToHost(p.Port))
	}
	return netip.AddrPort{}
}

// netToHost turns a port in network byte order, as the kernel stores it, into a number.
func netToHost(port uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&port))
	return uint16(b[0])<<8 | uint16(b[1])
}

// sockaddrAddrPort converts the address accept4 returns.
func sockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return netip.AddrPort{}
}
