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
}

// maxDatagram is the largest UDP payload there is.
const maxDatagram = 65535

func newUDPBatch() *udpBatch {
	b := &udpBatch{}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, maxDatagram)
	}
	return b
}

// udpBatch returns the loop's batch, making it when the first UDP socket needs it.
func (l *Loop) udpBatch() *udpBatch {
	if l.udpIO == nil {
		l.udpIO = newUDPBatch()
	}
	return l.udpIO
}

// receive reads up to a batch of datagrams, each cut at limit bytes (MSG_TRUNC is set on longer ones).
func (b *udpBatch) receive(fd, limit int) (int, error) {
	limit = min(max(limit, 1), maxDatagram)
	for i := range b.hdrs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(limit)
		h := &b.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Namelen = unix.SizeofSockaddrAny
		h.Iov = &b.iovs[i]
		h.Iovlen = 1
		h.Control = nil
		h.Controllen = 0
		h.Flags = 0
		b.hdrs[i].Len = 0
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.hdrs[0])),
		udpBatchSize, unix.MSG_TRUNC, 0, 0)
	if errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", errno)
	}
	return int(n), nil
}

// queueReply sets reply slot j to send reply to the sender of datagram i.
func (b *udpBatch) queueReply(j, i int, reply []byte) {
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
	h.Flags = 0
	b.out[j].Len = 0
}

// send writes the first n queued replies with sendmmsg and returns how many went out. A full socket buffer
// drops the rest: UDP has no backpressure, and the loop must not wait.
func (b *udpBatch) send(fd, n int) int {
	sent := 0
	for sent < n {
		r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.out[sent])),
			uintptr(n-sent), unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			// skip the datagram that failed (for example an unreachable peer) and go on with the rest
			sent++
			continue
		}
		if r == 0 {
			break
		}
		sent += int(r)
	}
	return sent
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
