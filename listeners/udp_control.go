package listeners

import (
	"encoding/binary"
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Besides its bytes, a datagram can come with what the kernel knows of it, as control messages: the TTL or
// hop limit and the TOS or traffic class byte it arrived with (for UDP /whoami and STAMP's Session-Sender
// TTL and Class of Service), and the kernel's receive time (STAMP's T2). A socket asks for them once; each
// receive then hands every datagram's control buffer to the kernel, and control() reads it back without
// allocating.

// udpCtlSize holds every control message a datagram can come with here: a timestamp, a pktinfo, the TTL and
// the TOS (IPv6: CmsgSpace 32 + 40 + 24 + 24 = 120), with room to spare.
const udpCtlSize = 160

// rxControl is what the kernel reported of one datagram.
type rxControl struct {
	ttl, tos int16 // -1 when not reported
	at       int64 // the kernel's receive time, unix ns; 0 when not reported
	segSize  int   // a run of coalesced datagrams: their size but the last one's (UDP_GRO); else 0
}

// noControl is the rxControl of a datagram the socket asked nothing about.
var noControl = rxControl{ttl: -1, tos: -1}

// enableRxControl asks the kernel to report the TTL and TOS of each datagram on fd, and with stamps its
// receive time (SO_TIMESTAMPNS). An IPv6 socket that also serves IPv4 clients asks for both families'
// options: a v4-mapped datagram is reported with the IPv4 ones.
func enableRxControl(fd int, ipv6, v6only, stamps bool) error {
	var errs []error
	set := func(level, opt int, name string) {
		if err := unix.SetsockoptInt(fd, level, opt, 1); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt "+name, err))
		}
	}
	if !ipv6 || !v6only {
		set(unix.IPPROTO_IP, unix.IP_RECVTTL, "IP_RECVTTL")
		set(unix.IPPROTO_IP, unix.IP_RECVTOS, "IP_RECVTOS")
	}
	if ipv6 {
		set(unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT")
		set(unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, "IPV6_RECVTCLASS")
	}
	if stamps {
		set(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, "SO_TIMESTAMPNS")
	}
	return errors.Join(errs...)
}

// control reads the control messages the kernel wrote with datagram i: its IP_PKTINFO or IPV6_PKTINFO
// message, whole (nil when there is none), and what else it reported.
func (b *udpBatch) control(i int) (pktinfo []byte, rx rxControl) {
	rx = noControl
	c := b.ctl[i][:min(int(b.hdrs[i].Hdr.Controllen), len(b.ctl[i]))]
	for len(c) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		n := int(h.Len)
		if n < unix.SizeofCmsghdr || n > len(c) {
			break
		}
		data, space := c[unix.CmsgLen(0):n], min(unix.CmsgSpace(n-unix.CmsgLen(0)), len(c))
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO,
			h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO:
			pktinfo = c[:space]
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TTL,
			h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT:
			rx.ttl = cmsgInt(data)
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TOS:
			if len(data) > 0 {
				rx.tos = int16(data[0]) // one octet, unlike the others
			}
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_TCLASS:
			rx.tos = cmsgInt(data)
		case h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && len(data) >= 4:
			rx.segSize = int(int32(binary.NativeEndian.Uint32(data)))
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= 16:
			sec, nsec := binary.NativeEndian.Uint64(data), binary.NativeEndian.Uint64(data[8:])
			rx.at = int64(sec)*1e9 + int64(nsec)
		}
		c = c[space:]
	}
	return pktinfo, rx
}

// cmsgInt reads the int of a control message as a TTL or TOS, -1 when it is not one.
func cmsgInt(data []byte) int16 {
	if len(data) < 4 {
		return -1
	}
	v := int32(binary.NativeEndian.Uint32(data))
	if v < 0 || v > 255 {
		return -1
	}
	return int16(v)
}

// receiveOneMsg reads one datagram with its control messages into slot 0 with recvmsg(2), which costs the
// kernel less than a recvmmsg(2) of one, filling in its header as recvmmsg would.
func (b *udpBatch) receiveOneMsg(fd, limit int) (int, error) {
	limit = min(max(limit, 1), maxDatagram)
	b.setControl(1, true)
	b.ctlOn = max(b.ctlOn, 1)
	b.iovs[0].SetLen(limit)
	b.limit = 0 // the other iovecs keep their length: receive sets them all again
	h := &b.hdrs[0]
	h.Hdr.Namelen = unix.SizeofSockaddrAny
	h.Hdr.Flags = 0
	r, _, errno := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&h.Hdr)), unix.MSG_TRUNC)
	if errno != 0 {
		return 0, recvError("recvmsg", errno)
	}
	h.Len = uint32(r) // with MSG_TRUNC, the datagram's real length
	b.used = max(b.used, 1)
	return 1, nil
}
