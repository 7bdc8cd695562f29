package listeners

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A UDP socket bound to the wildcard address ("0.0.0.0", "[::]") must answer from the address the client
// sent to, or a host with several addresses replies from whichever one routing picks and the client (or a
// middlebox) drops the reply. Such sockets ask the kernel for the destination of every datagram
// (IP_PKTINFO / IPV6_RECVPKTINFO) and send each reply with that address as its source.

// ctlSize holds one IP_PKTINFO or IPV6_PKTINFO control message: the most a reply sends (with GSO, before its
// UDP_SEGMENT message).
var ctlSize = unix.CmsgSpace(max(unix.SizeofInet4Pktinfo, unix.SizeofInet6Pktinfo))

// enablePktinfo asks the kernel to report each datagram's destination address.
func enablePktinfo(fd int, ipv6 bool) error {
	if ipv6 {
		return os.NewSyscallError("setsockopt IPV6_RECVPKTINFO",
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1))
	}
	return os.NewSyscallError("setsockopt IP_PKTINFO", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1))
}

// setControl points the first n receive headers at their control buffers (on) or at nothing (off).
func (b *udpBatch) setControl(n int, on bool) {
	for i := range n {
		h := &b.hdrs[i].Hdr
		if on {
			h.Control = &b.ctl[i][0]
			h.SetControllen(udpCtlSize)
		} else {
			h.Control = nil
			h.Controllen = 0
		}
	}
}

// replySource turns c, the pktinfo control message received with a datagram (see control), into the one that
// sends its reply from the address the datagram was sent to. It reports false when the datagram went to a
// multicast or broadcast address: echogate answers only datagrams sent to it alone.
func replySource(c []byte) (ctl []byte, ok bool) {
	if len(c) < unix.CmsgLen(0) {
		return nil, true
	}
	hdr := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
	data := unsafe.Pointer(&c[unix.CmsgLen(0)])
	switch {
	case hdr.Level == unix.IPPROTO_IP && hdr.Type == unix.IP_PKTINFO:
		info := (*unix.Inet4Pktinfo)(data)
		if info.Addr[0] >= 224 { // multicast, reserved and 255.255.255.255
			return nil, false
		}
		info.Spec_dst, info.Ifindex = info.Addr, 0
	case hdr.Level == unix.IPPROTO_IPV6 && hdr.Type == unix.IPV6_PKTINFO:
		info := (*unix.Inet6Pktinfo)(data)
		if info.Addr[0] == 0xff || isMapped(info.Addr) && info.Addr[12] >= 224 {
			return nil, false
		}
	default:
		return nil, true
	}
	return c, true
}

func isMapped(a [16]byte) bool {
	return a[10] == 0xff && a[11] == 0xff && a[0]|a[1]|a[2]|a[3]|a[4]|a[5]|a[6]|a[7]|a[8]|a[9] == 0
}
