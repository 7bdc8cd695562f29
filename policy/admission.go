package policy

import "net/netip"

// ConnVerdict is the decision on one accepted TCP connection.
type ConnVerdict int

// The verdicts of AdmitConn. Every one but Admitted means close the connection; RefuseBusy and RefusePerIP
// tell the client "server busy" first, RefuseCIDR tells it nothing.
const (
	Admitted    ConnVerdict = iota // serve it
	RefuseCIDR                     // the client is outside the allow list (or not a valid address)
	RefuseBusy                     // max_conns connections are open on the listener
	RefusePerIP                    // max_conns_per_ip connections are open from the client's address
)

// String returns a short name for v, for logs and counters.
func (v ConnVerdict) String() string {
	switch v {
	case Admitted:
		return "admitted"
	case RefuseCIDR:
		return "refuse-cidr"
	case RefuseBusy:
		return "refuse-busy"
	case RefusePerIP:
		return "refuse-per-ip"
	}
	return "unknown"
}

// AdmitConn decides whether a TCP connection from src may be served, while open connections are open on the
// listener and openFromIP of them come from src's address. The rules run in order: the allow list first, so
// that a client outside it learns nothing (not even that the listener is full), then max_conns, then
// max_conns_per_ip (0 = no limit).
func (p *Policy) AdmitConn(src netip.AddrPort, open, openFromIP int) ConnVerdict {
	switch {
	case !p.Admit(src.Addr()):
		return RefuseCIDR
	case open >= p.MaxConns:
		return RefuseBusy
	case p.MaxConnsPerIP > 0 && openFromIP >= p.MaxConnsPerIP:
		return RefusePerIP
	}
	return Admitted
}
