package policy

import (
	"net/netip"

	"echogate/config"
)

// ProxyMode is how a TCP listener treats a PROXY protocol header (proxy_protocol).
type ProxyMode uint8

// The proxy_protocol values. ProxyOff is the zero value, so that a listener that never asked pays nothing.
const (
	ProxyOff      ProxyMode = iota // a header is never read: its bytes are data
	ProxyOptional                  // a trusted peer may start with a header
	ProxyRequired                  // every connection must start with a header, from a trusted peer
)

func proxyMode(s string) ProxyMode {
	switch s {
	case config.ProxyOptional:
		return ProxyOptional
	case config.ProxyRequired:
		return ProxyRequired
	}
	return ProxyOff
}

// ProxyTrusted reports whether a peer at a may send a PROXY header: it is in proxy_allow (nil or empty trusts
// no one).
func (p *Policy) ProxyTrusted(a netip.Addr) bool { return contains(p.proxyAllow, a) }

// AdmitBalancer decides on a connection from a trusted balancer before its PROXY header is read, while open
// connections are open on the listener: only max_conns applies now. allow and max_conns_per_ip judge the
// client the header names, once it is read (AdmitConn).
func (p *Policy) AdmitBalancer(open int) ConnVerdict {
	if open >= p.MaxConns {
		return RefuseBusy
	}
	return Admitted
}
