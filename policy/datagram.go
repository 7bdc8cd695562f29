package policy

import (
	"net/netip"
	"slices"
)

// Verdict is the decision on one incoming UDP datagram.
type Verdict int

// The verdicts of AdmitDatagram; every one but Pass means drop without a reply.
const (
	Pass           Verdict = iota // answer it
	DropCIDR                      // the source is outside the allow list (or not a valid address)
	DropSourcePort                // source port 0 or one of udp_deny_source_ports (echo loops)
	DropBroadcast                 // a multicast, limited-broadcast or unspecified source (reflection)
)

// String returns a short name for v, for logs and counters.
func (v Verdict) String() string {
	switch v {
	case Pass:
		return "pass"
	case DropCIDR:
		return "drop-cidr"
	case DropSourcePort:
		return "drop-source-port"
	case DropBroadcast:
		return "drop-broadcast"
	}
	return "unknown"
}

// broadcast4 is the IPv4 limited-broadcast address.
var broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// AdmitDatagram decides whether a datagram from src may be answered. The rules run in order:
// source port 0 or a denied port, then a source that can not be a real sender (multicast,
// 255.255.255.255, unspecified, in IPv4-mapped form too), then the allow list.
func (p *Policy) AdmitDatagram(src netip.AddrPort) Verdict {
	port := src.Port()
	if port == 0 || slices.Contains(p.denyPorts, port) {
		return DropSourcePort
	}
	a := canonical(src.Addr())
	if a.IsMulticast() || a == broadcast4 || a.IsUnspecified() {
		return DropBroadcast
	}
	if !p.Admit(a) {
		return DropCIDR
	}
	return Pass
}
