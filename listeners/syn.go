package listeners

import (
	"encoding/binary"
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The client's SYN as it reached echogate, for /whoami: every listening TCP socket sets TCP_SAVE_SYN, so the
// kernel keeps the IP and TCP headers of each connection's SYN until they are read once with TCP_SAVED_SYN (or
// the connection closes). echogate reads them only when /whoami asks. A saved SYN costs kernel memory, not
// echogate's: one kmalloc of the headers plus 12 bytes (README, "What /whoami costs").

// synInfo is what the client's SYN carried on arrival: the TTL (hop limit) and TOS (traffic class) of its IP
// header, and its TCP options in order.
type synInfo struct {
	ttl, tos uint8
	options  []tcpOption
}

// tcpOption is one TCP option of a SYN. a and b are its values: MSS, window shift, TSval and TSecr.
type tcpOption struct {
	kind uint8
	a, b uint32
}

// The TCP option kinds a SYN carries (RFC 9293, 7323, 2018).
const (
	tcpOptEnd        = 0
	tcpOptNOP        = 1
	tcpOptMSS        = 2
	tcpOptWScale     = 3
	tcpOptSACKOK     = 4
	tcpOptTimestamps = 8
)

// mss returns the SYN's MSS option.
func (s *synInfo) mss() (uint16, bool) {
	for _, o := range s.options {
		if o.kind == tcpOptMSS {
			return uint16(o.a), true
		}
	}
	return 0, false
}

// readSavedSYN reads the SYN the kernel saved for fd. The kernel gives it once: the caller keeps it.
func readSavedSYN(fd int) (synInfo, error) {
	var buf [512]byte // an IPv6 header with extension headers and a TCP header with every option fit
	n := uint32(len(buf))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_SAVED_SYN,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return synInfo{}, os.NewSyscallError("getsockopt TCP_SAVED_SYN", errno)
	}
	if n == 0 {
		return synInfo{}, errors.New("no saved SYN")
	}
	return parseSYN(buf[:n])
}

// parseSYN reads the IP header (IPv4, or IPv6 and its extension headers) and the TCP header of a SYN.
func parseSYN(b []byte) (synInfo, error) {
	var s synInfo
	var tcp []byte
	if len(b) < 1 {
		return s, errors.New("saved SYN: empty")
	}
	switch b[0] >> 4 {
	case 4:
		ihl := int(b[0]&0xf) * 4
		if ihl < 20 || len(b) < ihl || b[9] != unix.IPPROTO_TCP {
			return s, errors.New("saved SYN: bad IPv4 header")
		}
		s.tos, s.ttl, tcp = b[1], b[8], b[ihl:]
	case 6:
		if len(b) < 40 {
			return s, errors.New("saved SYN: short IPv6 header")
		}
		s.tos, s.ttl = b[0]<<4|b[1]>>4, b[7]
		var err error
		if tcp, err = skipIPv6Extensions(b[6], b[40:]); err != nil {
			return s, err
		}
	default:
		return s, errors.New("saved SYN: not IPv4 or IPv6")
	}
	opts, err := tcpOptionBytes(tcp)
	if err != nil {
		return s, err
	}
	s.options, err = parseTCPOptions(opts)
	return s, err
}

// skipIPv6Extensions skips the hop-by-hop, routing and destination options headers that may come before TCP.
func skipIPv6Extensions(next byte, b []byte) ([]byte, error) {
	for next != unix.IPPROTO_TCP {
		switch next {
		case unix.IPPROTO_HOPOPTS, unix.IPPROTO_ROUTING, unix.IPPROTO_DSTOPTS:
		default:
			return nil, errors.New("saved SYN: IPv6 next header is not TCP")
		}
		if len(b) < 8 || len(b) < (int(b[1])+1)*8 {
			return nil, errors.New("saved SYN: short IPv6 extension header")
		}
		next, b = b[0], b[(int(b[1])+1)*8:]
	}
	return b, nil
}

// tcpOptionBytes returns the options of a TCP header.
func tcpOptionBytes(tcp []byte) ([]byte, error) {
	if len(tcp) < 20 {
		return nil, errors.New("saved SYN: short TCP header")
	}
	doff := int(tcp[12]>>4) * 4
	if doff < 20 || len(tcp) < doff {
		return nil, errors.New("saved SYN: bad TCP data offset")
	}
	return tcp[20:doff], nil
}

// parseTCPOptions lists the options in order; NOPs are left out, and the end-of-options stops the list.
func parseTCPOptions(b []byte) ([]tcpOption, error) {
	var opts []tcpOption
	for len(b) > 0 {
		kind := b[0]
		if kind == tcpOptEnd {
			break
		}
		if kind == tcpOptNOP {
			b = b[1:]
			continue
		}
		if len(b) < 2 || b[1] < 2 || int(b[1]) > len(b) {
			return opts, errors.New("saved SYN: bad TCP option length")
		}
		v, o := b[2:b[1]], tcpOption{kind: kind}
		switch {
		case kind == tcpOptMSS && len(v) == 2:
			o.a = uint32(binary.BigEndian.Uint16(v))
		case kind == tcpOptWScale && len(v) == 1:
			o.a = uint32(v[0])
		case kind == tcpOptTimestamps && len(v) == 8:
			o.a, o.b = binary.BigEndian.Uint32(v[:4]), binary.BigEndian.Uint32(v[4:])
		}
		opts = append(opts, o)
		b = b[b[1]:]
	}
	return opts, nil
}

// saveSYN asks the kernel to keep the SYN of each connection a listening socket accepts.
func saveSYN(fd int) error {
	return os.NewSyscallError("setsockopt TCP_SAVE_SYN", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_SAVE_SYN, 1))
}
