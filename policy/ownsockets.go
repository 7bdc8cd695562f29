package policy

import "net/netip"

// OwnSocket is one UDP socket of this daemon, as bound.
type OwnSocket struct {
	Addr   netip.AddrPort // the bound address; 0.0.0.0 or :: for the wildcard
	V6Only bool           // an IPv6 wildcard socket that does not serve IPv4 (IPV6_V6ONLY)
}

// OwnSockets is the set of source addresses that the daemon's own UDP sockets send from. A datagram from one
// of them is the daemon talking to itself: answering it would start an echo loop that never ends. A socket
// bound to one address sends from that address only; a wildcard socket sends from any local address with its
// port, where local means loopback (127.0.0.0/8, ::1) or one of the host's addresses (SetLocal). The zero
// value holds no socket.
type OwnSockets struct {
	ports [65536 / 64]uint64          // bit p is set when some socket is bound to port p: most datagrams stop here
	exact map[netip.AddrPort]struct{} // sockets bound to one address
	wild  map[uint16]family           // wildcard sockets, by port: which families they send from
	local map[netip.Addr]struct{}     // the host's addresses besides loopback, unmapped and without zone
}

// family is a set of address families.
type family uint8

const (
	family4 family = 1 << iota
	family6
)

// Set replaces the sockets with socks.
func (o *OwnSockets) Set(socks []OwnSocket) {
	o.ports = [len(o.ports)]uint64{}
	o.exact = make(map[netip.AddrPort]struct{}, len(socks))
	o.wild = map[uint16]family{}
	for _, s := range socks {
		a, port := canonical(s.Addr.Addr()), s.Addr.Port()
		o.ports[port/64] |= 1 << (port % 64)
		switch {
		case !a.IsUnspecified():
			o.exact[netip.AddrPortFrom(a, port)] = struct{}{}
		case a.Is4():
			o.wild[port] |= family4
		case s.V6Only:
			o.wild[port] |= family6
		default:
			o.wild[port] |= family4 | family6 // "[::]" is dual-stack: it sends IPv4 too
		}
	}
}

// SetLocal replaces the host's addresses (those of its interfaces). Loopback addresses are always local.
func (o *OwnSockets) SetLocal(addrs []netip.Addr) {
	o.local = make(map[netip.Addr]struct{}, len(addrs))
	for _, a := range addrs {
		if a = canonical(a); a.IsValid() && !a.IsLoopback() {
			o.local[a] = struct{}{}
		}
	}
}

// LocalCount is how many host addresses SetLocal holds, loopback aside.
func (o *OwnSockets) LocalCount() int { return len(o.local) }

// Contains reports whether src, a datagram's source, is one of the daemon's own sockets. It does not allocate.
func (o *OwnSockets) Contains(src netip.AddrPort) bool {
	port := src.Port()
	if o.ports[port/64]&(1<<(port%64)) == 0 {
		return false
	}
	a := canonical(src.Addr())
	if _, ok := o.exact[netip.AddrPortFrom(a, port)]; ok {
		return true
	}
	fam, ok := o.wild[port]
	switch {
	case !ok:
		return false
	case a.Is4() && fam&family4 == 0, a.Is6() && fam&family6 == 0:
		return false
	}
	if a.IsLoopback() {
		return true
	}
	_, ok = o.local[a]
	return ok
}
