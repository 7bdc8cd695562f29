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

// overlaps reports whether two listeners on the same protocol would fight for one
// port: the same address, or a wildcard that covers the other. Port 0 never overlaps.
func overlaps(a, b netip.AddrPort) bool {
	if a.Port() != b.Port() || a.Port() == 0 {
		return false
	}
	if a.Addr() == b.Addr() {
		return true
	}
	return covers(a.Addr(), b.Addr()) || covers(b.Addr(), a.Addr())
}

// covers reports whether a wildcard bind on w includes address x: "[::]" (dual-stack)
// covers everything, "0.0.0.0" covers IPv4 (and IPv4-mapped) addresses.
func covers(w, x netip.Addr) bool {
	switch {
	case w == netip.IPv6Unspecified():
		return true
	case w == netip.IPv4Unspecified():
		return x.Unmap().Is4()
	}
	return false
}
