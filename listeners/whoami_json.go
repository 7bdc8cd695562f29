package listeners

import (
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

// What /whoami json adds to the fields of the line for a connection: the SYN's TCP options in order, the
// TCP_INFO fields, and the PROXY header with its v2 TLVs.

// appendWhoamiExtra appends ,"syn_options":[…],"tcp_info":{…},"proxy":{…}, each when known.
func (c *tcpConn) appendWhoamiExtra(b []byte, info *unix.TCPInfo) []byte {
	if d := c.diag; d != nil && d.synOK {
		b = append(b, `,"syn_options":[`...)
		for i, o := range d.syn.options {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendTCPOption(b, o)
		}
		b = append(b, ']')
	}
	if info != nil {
		b = append(b, `,"tcp_info":{"rtt_us":`...)
		b = strconv.AppendUint(b, uint64(info.Rtt), 10)
		b = appendUintField(b, "rttvar_us", uint64(info.Rttvar))
		b = appendUintField(b, "retransmits", uint64(info.Retransmits))
		b = appendUintField(b, "total_retrans", uint64(info.Total_retrans))
		b = appendUintField(b, "snd_mss", uint64(info.Snd_mss))
		b = appendUintField(b, "rcv_mss", uint64(info.Rcv_mss))
		b = appendUintField(b, "pmtu", uint64(info.Pmtu))
		b = append(b, '}')
	}
	if d := c.diag; d != nil && d.header {
		b = appendProxyJSON(append(b, `,"proxy":`...), &d.hdr, c.peer)
	}
	return b
}

// appendTCPOption appends one SYN option: {"kind":"mss","value":1460}, {"kind":"sack_permitted"}, ….
func appendTCPOption(b []byte, o tcpOption) []byte {
	switch o.kind {
	case tcpOptMSS:
		return append(strconv.AppendUint(append(b, `{"kind":"mss","value":`...), uint64(o.a), 10), '}')
	case tcpOptWScale:
		return append(strconv.AppendUint(append(b, `{"kind":"wscale","value":`...), uint64(o.a), 10), '}')
	case tcpOptSACKOK:
		return append(b, `{"kind":"sack_permitted"}`...)
	case tcpOptTimestamps:
		b = strconv.AppendUint(append(b, `{"kind":"timestamps","tsval":`...), uint64(o.a), 10)
		return append(appendUintField(b, "tsecr", uint64(o.b)), '}')
	}
	return append(strconv.AppendUint(append(b, `{"kind":`...), uint64(o.kind), 10), '}')
}

// appendUintField appends ,"key":v.
func appendUintField(b []byte, key string, v uint64) []byte {
	b = append(append(append(b, ",\""...), key...), "\":"...)
	return strconv.AppendUint(b, v, 10)
}

// appendStringField appends ,"key":"v" when v is not empty.
func appendStringField(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendJSONString(append(append(append(b, ",\""...), key...), "\":"...), v)
}

// appendProxyJSON appends the PROXY header as an object: version, command, addresses (src, the client it
// named, is the connection's peer), and the TLVs sent.
func appendProxyJSON(b []byte, h *proxyInfo, src netip.AddrPort) []byte {
	b = strconv.AppendUint(append(b, `{"version":`...), uint64(h.version), 10)
	command := "proxy"
	if h.local {
		command = "local"
		if h.version == 1 {
			command = "unknown"
		}
	}
	b = appendStringField(b, "command", command)
	if h.version == 2 {
		b = appendStringField(b, "family", proxyFamilies[h.family])
	}
	if h.proxied {
		b = appendJSONAddr(append(b, `,"src":`...), src)
		b = appendJSONAddr(append(b, `,"dst":`...), h.dst)
	}
	if h.tlv != nil {
		b = appendTLVsJSON(b, h.tlv)
	}
	return append(b, '}')
}

// proxyFamilies names the v2 family and transport bytes: the names of the spec's table.
var proxyFamilies = map[uint8]string{0x00: "unspec", 0x11: "tcp4", 0x12: "udp4", 0x21: "tcp6", 0x22: "udp6",
	0x31: "unix_stream", 0x32: "unix_dgram"}

// appendTLVsJSON appends the fields of the v2 TLVs that were sent.
func appendTLVsJSON(b []byte, t *proxyTLVs) []byte {
	b = appendStringField(b, "alpn", t.alpn)
	b = appendStringField(b, "authority", t.authority)
	b = appendStringField(b, "unique_id", t.uniqueID)
	b = appendStringField(b, "netns", t.netns)
	if t.ssl {
		b = strconv.AppendUint(append(b, `,"ssl":{"client":`...), uint64(t.sslClient), 10)
		b = appendUintField(b, "verify", uint64(t.sslVerify))
		b = appendStringField(b, "version", t.sslVersion)
		b = appendStringField(b, "cn", t.sslCN)
		b = appendStringField(b, "cipher", t.sslCipher)
		b = append(b, '}')
	}
	if len(t.other) > 0 {
		b = append(b, `,"other_tlvs":[`...)
		for i, typ := range t.other {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(typ), 10)
		}
		b = append(b, ']')
	}
	return b
}
