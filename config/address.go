package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// normalizeAddress checks a "host:port" address and returns it in canonical form.
// The host must be an IP literal; an empty host (":7007") means 127.0.0.1, so a
// listener is on loopback unless a wider address is written. "[::]:7007" is the
// dual-stack wildcard. Port 0 asks the kernel for a free port.
func normalizeAddress(s string) (string, error) {
	if strings.HasPrefix(s, ":") && !strings.HasPrefix(s, "::") {
		s = "127.0.0.1" + s
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return "", explainAddress(s)
	}
	if ap.Addr().Zone() != "" {
		return "", fmt.Errorf("%q: zoned addresses are not supported; bind a global address or \"[::]\"", s)
	}
	return ap.String(), nil
}

// explainAddress says what is wrong with an address netip could not parse.
func explainAddress(s string) error {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return fmt.Errorf("%q has no port (want \"host:port\", e.g. \"127.0.0.1:7007\")", s)
	}
	host, port := strings.Trim(s[:i], "[]"), s[i+1:]
	if strings.Contains(host, ":") && !strings.HasPrefix(s, "[") {
		return fmt.Errorf("%q: write an IPv6 host in brackets, e.g. \"[::1]:7007\"", s)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("%q: host must be an IP address, not a name (e.g. \"127.0.0.1:7007\")", s)
	}
	return fmt.Errorf("%q: bad port %q (want 0..65535)", s, port)
}

// parseAddrPort parses an address as normalizeAddress accepts it.
func parseAddrPort(s string) (netip.AddrPort, error) {
	norm, err := normalizeAddress(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.ParseAddrPort(norm)
}

// AddrPort returns the listener's address to bind. It fails when Address is empty
// (the socket is expected from systemd) or not a valid "host:port".
func (l *Listener) AddrPort() (netip.AddrPort, error) {
	if l.Address == "" {
		return netip.AddrPort{}, fmt.Errorf("listener %q: %w", l.Name, ErrNoAddress)
	}
	s, err := normalizeAddress(l.Address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("listener %q: address %w", l.Name, err)
	}
	return netip.MustParseAddrPort(s), nil
}

// ErrNoAddress is returned by AddrPort for a listener without an address, one that
// can only be served by a socket passed by systemd.
var ErrNoAddress = errors.New("no address (and no socket from systemd)")

// bindSet finds listeners that would fight for a port, the way the kernel sees it: one protocol, one port,
// and addresses that overlap. IPv4-mapped IPv6 addresses ("[::ffff:127.0.0.1]") are bound as the IPv4
// address they map (see listeners.Bind), so they count as IPv4. "[::]" is dual-stack: it overlaps every
// address on its port. "0.0.0.0" overlaps every IPv4 address. Port 0 never overlaps (each bind gets its own
// port). Each add is O(1), so validating n listeners is O(n).
type bindSet struct {
	addrs map[bindAddr]int      // the first listener on each protocol, address and port
	ports map[bindKey]portUsers // the first listener of each kind on each protocol and port
}

type bindKey struct {
	proto Protocol
	port  uint16
}

type bindAddr struct {
	bindKey
	addr netip.Addr
}

// portUsers are the first listeners of each kind on one protocol and port, the only ones an overlap needs to
// name. -1 means none.
type portUsers struct {
	first int // any address
	ipv4  int // any IPv4 address, 0.0.0.0 included
	any4  int // 0.0.0.0
	any6  int // [::]
}

func newBindSet(n int) bindSet {
	return bindSet{addrs: make(map[bindAddr]int, n), ports: make(map[bindKey]portUsers, n)}
}

// add records listener i on ap and returns the first earlier listener whose address overlaps, or -1.
func (s bindSet) add(proto Protocol, ap netip.AddrPort, i int) int {
	if ap.Port() == 0 {
		return -1
	}
	k := bindAddr{bindKey{proto, ap.Port()}, ap.Addr().Unmap()}
	u, ok := s.ports[k.bindKey]
	if !ok {
		u = portUsers{first: -1, ipv4: -1, any4: -1, any6: -1}
	}
	clash := -1
	earliest := func(j int) {
		if j >= 0 && (clash < 0 || j < clash) {
			clash = j
		}
	}
	if j, ok := s.addrs[k]; ok {
		earliest(j)
	} else {
		s.addrs[k] = i
	}
	earliest(u.any6)
	firstOf := func(p *int) {
		if *p < 0 {
			*p = i
		}
	}
	switch addr := k.addr; {
	case addr == netip.IPv6Unspecified():
		earliest(u.first)
		firstOf(&u.any6)
	case addr == netip.IPv4Unspecified():
		earliest(u.ipv4)
		firstOf(&u.any4)
		firstOf(&u.ipv4)
	case addr.Is4():
		earliest(u.any4)
		firstOf(&u.ipv4)
	}
	firstOf(&u.first)
	s.ports[k.bindKey] = u
	return clash
}

// overlapReason explains an overlap between two addresses that differ as written, "" when they are equal.
func overlapReason(a, b netip.Addr) string {
	if a == b {
		return ""
	}
	var why []string
	if a.Is4In6() || b.Is4In6() {
		why = append(why, "an IPv4-mapped address is bound as the IPv4 address it maps")
	}
	switch {
	case a == netip.IPv6Unspecified() || b == netip.IPv6Unspecified():
		why = append(why, `"[::]" is dual-stack and takes the port on every IPv4 and IPv6 address`)
	case a.Unmap() == netip.IPv4Unspecified() || b.Unmap() == netip.IPv4Unspecified():
		why = append(why, "0.0.0.0 takes the port on every IPv4 address")
	}
	if len(why) == 0 {
		return ""
	}
	return ": " + strings.Join(why, "; ")
}
