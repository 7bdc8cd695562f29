package listeners

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// A reply normally leaves with the socket's TOS (IPv4) or traffic class (IPv6). A protocol may give one
// reply a TOS of its own, as STAMP's Class of Service TLV asks (RFC 8972 §4.4): it is sent with an IP_TOS or
// IPV6_TCLASS control message, after the IP_PKTINFO or IPV6_PKTINFO of a wildcard socket, in one control
// buffer per reply slot. No setsockopt per datagram, and the other replies of the batch keep the socket's.
// A datagram from an IPv4 peer on a dual-stack IPv6 socket is sent by the kernel's IPv4 path, which reads
// IP_TOS and ignores IPV6_TCLASS (ip_cmsg_send), so the message follows the peer's family, not the socket's.

// replyCtlMax holds a reply's control messages: a pktinfo (at most CmsgSpace(20) = 40 octets on 64-bit
// Linux) and a TOS (CmsgSpace(4) = 24).
const replyCtlMax = 64

// replyControl returns the control buffer of the reply to datagram i of b: ctl, its source if any, and the
// TOS the protocol gave the reply (u.stamp.replyTOS), if it gave one.
func (u *udpEndpoint) replyControl(b *udpBatch, i int, ctl []byte) []byte {
	if u.stamp == nil || u.stamp.replyTOS < 0 {
		return ctl
	}
	return b.withTOS(i, ctl, uint8(u.stamp.replyTOS))
}

// withTOS writes ctl and a TOS message of tos for the peer of datagram i into slot i's reply control
// buffer, and returns it.
func (b *udpBatch) withTOS(i int, ctl []byte, tos uint8) []byte {
	c := b.replyCtl[i][:]
	n := copy(c, ctl)
	level, typ := unix.IPPROTO_IPV6, unix.IPV6_TCLASS
	if ipv4Peer(&b.names[i]) {
		level, typ = unix.IPPROTO_IP, unix.IP_TOS
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&c[n]))
	h.Level, h.Type = int32(level), int32(typ)
	h.SetLen(unix.CmsgLen(4))
	data := n + unix.CmsgLen(0)
	*(*int32)(unsafe.Pointer(&c[data])) = int32(tos) // an int, which both IP_TOS and IPV6_TCLASS accept
	end := n + unix.CmsgSpace(4)
	clear(c[data+4 : end]) // the padding: equal control buffers make equal replies for UDP_SEGMENT runs
	return c[:end]
}

// ipv4Peer tells whether rsa, a datagram's source, is an IPv4 address, as such or mapped into IPv6.
func ipv4Peer(rsa *unix.RawSockaddrAny) bool {
	if rsa.Addr.Family != unix.AF_INET6 {
		return true
	}
	return isMapped((*unix.RawSockaddrInet6)(unsafe.Pointer(rsa)).Addr)
}
