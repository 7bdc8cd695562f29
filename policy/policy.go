package policy

import (
	"crypto/tls"
	"net/netip"
	"slices"
	"time"

	"echogate/config"
)

// Policy is the immutable set of rules of one listener, built from a validated config.Listener.
// The event loop reads the exported fields directly and calls the methods on its hot path;
// none of them allocates.
type Policy struct {
	Name          string
	Protocol      config.Protocol
	Mode          config.Mode // tcp: how bytes are echoed ("line", "raw"); listeners serve each mode
	Commands      bool        // "/"-lines are commands
	MaxConns      int
	MaxConnsPerIP int // 0 = no per-address limit
	MaxLine       int
	MaxOutput     int
	MaxDatagram   int
	MaxUDPPeers   int
	IdleTimeout   time.Duration // 0 = never
	LineTimeout   time.Duration // line mode: the most a line may take from its first byte to '\n'; 0 = off
	// Proxy is whether connections from ProxyTrusted peers start with a PROXY protocol header: ProxyOff,
	// ProxyOptional or ProxyRequired; ProxyTimeout bounds how long the header may take.
	Proxy        ProxyMode
	ProxyTimeout time.Duration

	// AgentListeners and AgentWeight are the agent mode's: whose service it reports, the weight it sends.
	AgentListeners []string
	AgentWeight    int
	Stamp          *Stamp // mode "stamp": the reflector's rules; nil in other modes

	// TLS is the listener's TLS server config, nil on a plain listener; HandshakeTimeout bounds a handshake.
	TLS              *tls.Config
	HandshakeTimeout time.Duration

	allow      []netip.Prefix // nil = every client; empty = no client
	adminAllow []netip.Prefix
	token      [32]byte // SHA-256 of the token; the token itself is not kept
	hasToken   bool
	lines      rate // rate_lines, per TCP connection
	datagrams  rate // rate_datagrams, per UDP source
	denyPorts  []uint16
	proxyAllow []netip.Prefix // the balancers trusted to send a PROXY header
}

// New builds the Policy of l. It copies every slice, so later changes to l do not reach the Policy.
func New(l *config.Listener) *Policy {
	p := &Policy{
		Name:          l.Name,
		Protocol:      l.Protocol,
		Mode:          l.Mode,
		Commands:      l.Commands,
		MaxConns:      l.MaxConns,
		MaxConnsPerIP: l.MaxConnsPerIP,
		MaxLine:       l.MaxLine,
		MaxOutput:     l.MaxOutput,
		MaxDatagram:   l.MaxDatagram,
		MaxUDPPeers:   l.MaxUDPPeers,
		IdleTimeout:   l.IdleTimeout,
		LineTimeout:   l.LineTimeout,
		allow:         normalize(l.Allow),
		adminAllow:    normalize(l.AdminAllow),
		lines:         newRate(l.RateLines, l.RateBurst),
		datagrams:     newRate(l.RateDatagrams, l.RateBurst),
		denyPorts:     slices.Clone(l.UDPDenySources),
		Proxy:         proxyMode(l.ProxyProtocol),
		ProxyTimeout:  l.ProxyTimeout,
		proxyAllow:    normalize(l.ProxyAllow),
		Stamp:         newStamp(l),
	}
	p.AgentListeners, p.AgentWeight = slices.Clone(l.AgentListeners), l.AgentWeight
	p.TLS, p.HandshakeTimeout = serverTLS(l), l.TLSHandshakeTimeout
	if l.Token != "" {
		p.token = digest([]byte(l.Token))
		p.hasToken = true
	}
	return p
}

// Admit reports whether a client at a may use the listener: true when the allow list is nil,
// otherwise when a lies in one of its prefixes.
func (p *Policy) Admit(a netip.Addr) bool {
	if p.allow == nil {
		return a.IsValid()
	}
	return contains(p.allow, a)
}

// AdminAllowed reports whether a client at a may ask for /shutdown (the admin_allow list;
// nil or empty allows no one).
func (p *Policy) AdminAllowed(a netip.Addr) bool {
	return contains(p.adminAllow, a)
}

// contains reports whether a, unmapped and without zone, lies in one of prefixes (first match wins;
// the default is to refuse, and an invalid address is always refused).
func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	a = canonical(a)
	if !a.IsValid() {
		return false
	}
	for _, pfx := range prefixes {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// canonical turns an IPv4-mapped IPv6 address into IPv4 and drops an IPv6 zone.
func canonical(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// normalize masks each prefix and rewrites IPv4-mapped IPv6 prefixes (::ffff:10.0.0.0/104) as the
// IPv4 prefixes they stand for, since addresses are unmapped before matching. nil stays nil.
func normalize(in []netip.Prefix) []netip.Prefix {
	if in == nil {
		return nil
	}
	out := make([]netip.Prefix, 0, len(in))
	for _, pfx := range in {
		addr, bits := pfx.Addr(), pfx.Bits()
		if addr.Is4In6() && bits >= 96 {
			addr, bits = addr.Unmap(), bits-96
		}
		out = append(out, netip.PrefixFrom(addr.WithZone(""), bits).Masked())
	}
	return out
}
