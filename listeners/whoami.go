package listeners

import (
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"echogate/internal/logmsg"
)

// /whoami tells a client what echogate saw of it: the addresses, and what the kernel says about the path —
// the SYN as it arrived and TCP_INFO for a connection, the TTL and TOS of the datagram that asked. Each field
// is a key and a value, in the order of the line; a field the kernel did not give is left out. Nothing here
// runs unless a client asks, and the saved SYN and TCP_INFO are read only then.

// connCommand answers a command line of connection c: /whoami and a /shutdown through a PROXY header here,
// the rest as on every listener.
func (l *Loop) connCommand(out []byte, c *tcpConn, line []byte) []byte {
	cmd, _ := ParseCommand(line)
	switch string(cmd.Name) {
	case "whoami":
		info, infoErr := unix.GetsockoptTCPInfo(int(c.fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if infoErr != nil {
			info = nil
		}
		return appendWhoami(out, cmd.Arg, c.whoamiFields(l, info), func(b []byte) []byte {
			return c.appendWhoamiExtra(b, info)
		})
	case "shutdown":
		if c.diag != nil && c.diag.header { // whatever the header claims, it is not a loopback client
			c.ln.stats.ShutdownRefused++
			l.refused(c.ln.name, reasonAdminAllow, c.peer)
			return append(out, replyLoopbackOnly...)
		}
	}
	return l.runCommand(out, c.ln.pol, c.ln.stats, c.peer, line, false)
}

// appendWhoami appends the answer to "/whoami arg": the fields as one line, or with "json" as one JSON
// object followed by what extra appends (nil: nothing).
func appendWhoami(out, arg []byte, fields []kv, extra func([]byte) []byte) []byte {
	switch string(arg) {
	case "":
		for i, f := range fields {
			if i > 0 {
				out = append(out, ' ')
			}
			out = append(append(append(out, f.key...), '='), f.value...)
		}
		return append(out, '\n')
	case "json":
		out = append(out, '{')
		for i, f := range fields {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendJSONValue(append(appendJSONString(out, f.key), ':'), f.value)
		}
		if extra != nil {
			out = extra(out)
		}
		return append(out, "}\n"...)
	}
	return append(out, replyUnknownArg...)
}

// appendJSONValue appends a field's value: a number when it is one, a string otherwise.
func appendJSONValue(out []byte, v string) []byte {
	if _, err := strconv.ParseUint(v, 10, 64); err == nil {
		return append(out, v...)
	}
	return appendJSONString(out, v)
}

// whoamiFields are the fields of c's /whoami line.
func (c *tcpConn) whoamiFields(l *Loop, info *unix.TCPInfo) []kv {
	fields := []kv{{"peer", c.peer.String()}}
	if sa, err := unix.Getsockname(int(c.fd)); err == nil {
		local := sockaddrAddrPort(sa)
		fields = append(fields, kv{"local", netip.AddrPortFrom(local.Addr().Unmap(), local.Port()).String()})
	}
	fields = append(fields, kv{"listener", c.ln.name}, kv{"proto", "tcp"}, kv{"host", hostname()})
	if c.proxied() {
		fields = append(fields, kv{"via", c.diag.via.String()})
	}
	if syn, ok := c.savedSYN(l); ok {
		fields = append(fields, kv{"syn_ttl", strconv.Itoa(int(syn.ttl))})
		if mss, ok := syn.mss(); ok {
			fields = append(fields, kv{"syn_mss", strconv.Itoa(int(mss))})
		}
		fields = append(fields, kv{"syn_tos", hexByte(syn.tos)})
	}
	if info != nil {
		fields = append(fields, kv{"rtt_us", strconv.FormatUint(uint64(info.Rtt), 10)},
			kv{"retrans", strconv.FormatUint(uint64(info.Total_retrans), 10)},
			kv{"pmtu", strconv.FormatUint(uint64(info.Pmtu), 10)})
	}
	if c.tls != nil {
		st := c.tls.conn.ConnectionState()
		fields = append(fields, tlsWhoamiFields(&st)...)
	}
	return fields
}

// datagramFields are the fields of the /whoami line of datagram d.
func datagramFields(u *udpEndpoint, d *datagram) []kv {
	fields := []kv{{"peer", d.src.String()}, {"local", datagramLocal(u, d).String()}, {"listener", u.name},
		{"proto", "udp"}, {"host", hostname()}}
	if d.ttl >= 0 {
		fields = append(fields, kv{"ttl", strconv.Itoa(int(d.ttl))})
	}
	if d.tos >= 0 {
		fields = append(fields, kv{"tos", hexByte(uint8(d.tos))})
	}
	return fields
}

// datagramLocal is the address d was sent to: the listener's own, or on a wildcard socket the destination
// the kernel gave with d (IP_PKTINFO / IPV6_PKTINFO, the reply's source in d.ctl).
func datagramLocal(u *udpEndpoint, d *datagram) netip.AddrPort {
	if len(d.ctl) < unix.CmsgLen(0) {
		return u.addr
	}
	hdr := (*unix.Cmsghdr)(unsafe.Pointer(&d.ctl[0]))
	data := d.ctl[unix.CmsgLen(0):]
	switch {
	case hdr.Level == unix.IPPROTO_IP && hdr.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
		info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
		return netip.AddrPortFrom(netip.AddrFrom4(info.Addr), u.addr.Port())
	case hdr.Level == unix.IPPROTO_IPV6 && hdr.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
		info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
		return netip.AddrPortFrom(netip.AddrFrom16(info.Addr).Unmap(), u.addr.Port())
	}
	return u.addr
}

// savedSYN returns the client's SYN, read from the kernel the first time it is asked for and kept: the kernel
// gives a saved SYN only once.
func (c *tcpConn) savedSYN(l *Loop) (*synInfo, bool) {
	if c.diag == nil {
		c.diag = &connDiag{}
	}
	d := c.diag
	if !d.synRead {
		d.synRead = true
		syn, err := readSavedSYN(int(c.fd))
		if err != nil {
			l.log.Debug(logmsg.NoSavedSYN, "listener", c.ln.name, "peer", c.peer, "err", err)
			return nil, false
		}
		d.syn, d.synOK = syn, true
	}
	return &d.syn, d.synOK
}

// hexByte writes b as 0xNN.
func hexByte(b uint8) string {
	const digits = "0123456789abcdef"
	return string([]byte{'0', 'x', digits[b>>4], digits[b&0xf]})
}

// hostname is the kernel's host name (uname(2): one system call, no file).
func hostname() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Nodename[:])
}
