package listeners

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP segmentation offload (UDP_SEGMENT, Linux 4.18). A batch from recvmmsg often holds several datagrams from
// one peer, and their echoes are the same size. Sent as one message with a UDP_SEGMENT control message, the
// kernel takes them through its send path once, as one large datagram, and cuts it into datagrams of
// gso_size bytes (the last one may be shorter) only at the end: in the loopback driver, or in the NIC. The
// peer receives exactly the datagrams it would have received one by one, from the same address. The kernel's
// per-datagram send cost is most of what a UDP echo costs (see "UDP batching" in the README), so this cuts
// the server's CPU per datagram where peers keep several datagrams in flight.
//
// Each batch's replies are grouped into runs: the replies to one peer, from one source address and with one
// TOS (udp_tos.go), in the order they were received, of one size except for a shorter (not empty) last one;
// a reply to the peer from another source or with another TOS ends the run. A run is one message, whose iovecs are the
// replies' own buffers (nothing is copied); replies to other peers may be sent before or after it, so only
// the order per peer is kept, which is all UDP ever promised. A kernel or device that refuses the offload
// (EIO: no checksum offload; EINVAL: a segment larger than the route's MTU) gets the run again one datagram
// at a time, and the socket stops asking.

// gsoMaxPayload bounds the bytes of one run: a UDP datagram's length, headers included, fits in 16 bits.
const gsoMaxPayload = 0xffff - udpHeaders4

// gsoCtlMax holds a reply's control messages (its IP_PKTINFO or IPV6_PKTINFO, and its IP_TOS or IPV6_TCLASS:
// replyCtlMax) and the UDP_SEGMENT one (24 bytes on 64-bit Linux).
const gsoCtlMax = replyCtlMax + 32

// gsoBatch is the messages of one batch's replies grouped into runs. The loop owns one, in its udpBatch.
type gsoBatch struct {
	msgs  [udpBatchSize]unix.Mmsghdr
	iovs  [udpBatchSize]unix.Iovec
	ctl   [udpBatchSize][gsoCtlMax]byte
	slots [udpBatchSize]int     // the reply slots of the messages, message after message
	first [udpBatchSize + 1]int // where each message's slots start in slots, and where the last one ends
	taken [udpBatchSize]bool
	key   [udpBatchSize]uint64
}

// sendReplies sends the first n queued replies of u's batch, grouped into UDP_SEGMENT runs unless u's
// kernel refused them before or no two replies can share a run.
func (b *udpBatch) sendReplies(u *udpEndpoint, n int) (sent int, bytes uint64) {
	if n < 2 || u.gsoRefused {
		return b.send(u.fd, n)
	}
	g := &b.gso
	m := g.group(b, n)
	if m == n {
		return b.send(u.fd, n)
	}
	return g.send(b, u, m)
}

// group lays the n queued replies of b out as runs, one message each, and returns how many messages.
func (g *gsoBatch) group(b *udpBatch, n int) int {
	for j := range n {
		g.taken[j] = false
		g.key[j] = peerKey(&b.out[j].Hdr)
	}
	m, k := 0, 0
	for j := range n {
		if g.taken[j] {
			continue
		}
		g.first[m] = k
		g.slots[k], g.iovs[k], g.taken[j] = j, b.outIov[j], true
		k++
		size, total := b.outIov[j].Len, b.outIov[j].Len
		runs := size > 0 && int(b.out[j].Hdr.Controllen)+unix.CmsgSpace(2) <= gsoCtlMax // room for UDP_SEGMENT
		for x := j + 1; x < n && runs; x++ {
			if g.taken[x] || g.key[x] != g.key[j] {
				continue
			}
			if !sameRoute(&b.out[j].Hdr, &b.out[x].Hdr) {
				if samePeer(&b.out[j].Hdr, &b.out[x].Hdr) {
					break // to this peer from another source or with another TOS: the run ends, the order stays
				}
				continue
			}
			sx := b.outIov[x].Len
			if sx == 0 || sx > size || total+sx > gsoMaxPayload {
				break // this peer's next run starts at x (an empty datagram cannot be a segment)
			}
			g.slots[k], g.iovs[k], g.taken[x] = x, b.outIov[x], true
			k++
			total += sx
			if sx < size {
				break // a shorter datagram ends a run
			}
		}
		g.setMessage(b, m, j, k-g.first[m], size)
		m++
	}
	g.first[m] = k
	return m
}

// setMessage makes message m: segs replies from slot g.first[m] on, to the peer of reply j and from its
// source, with UDP_SEGMENT at size bytes when there is more than one.
func (g *gsoBatch) setMessage(b *udpBatch, m, j, segs int, size uint64) {
	src := &b.out[j].Hdr
	h := &g.msgs[m].Hdr
	h.Name, h.Namelen = src.Name, src.Namelen
	h.Iov = &g.iovs[g.first[m]]
	h.SetIovlen(segs)
	h.Flags = 0
	g.msgs[m].Len = 0
	h.Control, h.Controllen = src.Control, src.Controllen
	if segs == 1 {
		return
	}
	c := g.ctl[m][:]
	n := copy(c, unsafe.Slice(src.Control, src.Controllen)) // the pktinfo of a wildcard socket, a TOS, or nothing
	cm := (*unix.Cmsghdr)(unsafe.Pointer(&c[n]))
	cm.Level, cm.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	cm.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&c[n+unix.CmsgLen(0)])) = uint16(size)
	h.Control = &c[0]
	h.SetControllen(n + unix.CmsgSpace(2))
}

// send writes the m grouped messages with sendmmsg. A message the kernel refuses is dropped, as in
// udpBatch.send, unless it is a run refused for the offload itself: then its replies go out one by one,
// and u stops grouping.
func (g *gsoBatch) send(b *udpBatch, u *udpEndpoint, m int) (sent int, bytes uint64) {
	for next := 0; next < m; {
		r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(u.fd), uintptr(unsafe.Pointer(&g.msgs[next])),
			uintptr(m-next), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case errno == unix.EINTR:
			continue
		case errno != 0:
			if segs := g.first[next+1] - g.first[next]; segs > 1 && refusesOffload(errno) {
				u.gsoRefused = true
				s, n := g.sendOneByOne(b, u.fd, next)
				sent, bytes = sent+s, bytes+n
			}
			next++
			continue
		case r == 0:
			return sent, bytes
		}
		for i := next; i < next+int(r); i++ {
			segs := g.first[i+1] - g.first[i]
			sent += segs
			if segs > 1 {
				u.stats.UDPSegmented += uint64(segs)
			}
			for _, iov := range g.iovs[g.first[i]:g.first[i+1]] {
				bytes += iov.Len
			}
		}
		next += int(r)
	}
	return sent, bytes
}

// refusesOffload tells whether a failed send of a run says the kernel or the device cannot segment it.
func refusesOffload(errno unix.Errno) bool {
	return errno == unix.EIO || errno == unix.EINVAL || errno == unix.EMSGSIZE || errno == unix.ENOPROTOOPT
}

// sendOneByOne sends the replies of message m as the plain messages udpBatch.queueReply made.
func (g *gsoBatch) sendOneByOne(b *udpBatch, fd, m int) (sent int, bytes uint64) {
	for _, j := range g.slots[g.first[m]:g.first[m+1]] {
		_, _, errno := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.out[j].Hdr)),
			unix.MSG_DONTWAIT)
		if errno == 0 {
			sent++
			bytes += b.outIov[j].Len
		}
	}
	return sent, bytes
}

// peerKey folds a reply's destination address and port into a number: replies with different keys go to
// different peers; equal keys are compared in full by sameRoute.
func peerKey(h *unix.Msghdr) uint64 {
	name := unsafe.Slice(h.Name, h.Namelen)
	var k uint64 = 14695981039346656037
	for _, c := range name {
		k = (k ^ uint64(c)) * 1099511628211
	}
	return k
}

// samePeer tells whether two replies go to the same peer.
func samePeer(a, b *unix.Msghdr) bool {
	return a.Namelen == b.Namelen && string(unsafe.Slice(a.Name, a.Namelen)) == string(unsafe.Slice(b.Name, b.Namelen))
}

// sameRoute tells whether two replies go to the same peer from the same source address, with the same TOS.
func sameRoute(a, b *unix.Msghdr) bool {
	return samePeer(a, b) && a.Controllen == b.Controllen &&
		(a.Controllen == 0 || string(unsafe.Slice(a.Control, a.Controllen)) == string(unsafe.Slice(b.Control, b.Controllen)))
}
