package config

import (
	"errors"
	"net/netip"
	"testing"
)

func TestNormalizeAddress(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{":7007", "127.0.0.1:7007", ""},
		{"127.0.0.1:7007", "127.0.0.1:7007", ""},
		{"[::1]:7007", "[::1]:7007", ""},
		{"[::]:7007", "[::]:7007", ""},
		{"0.0.0.0:0", "0.0.0.0:0", ""},
		{"[0:0:0:0:0:0:0:1]:7", "[::1]:7", ""},
		{"[fe80::1%eth0]:7", "", `"[fe80::1%eth0]:7": zoned addresses are not supported; bind a global address or "[::]"`},
		{"", "", `"" has no port (want "host:port", e.g. "127.0.0.1:7007")`},
		{"localhost:7", "", `"localhost:7": host must be an IP address, not a name (e.g. "127.0.0.1:7007")`},
		{":-1", "", `"127.0.0.1:-1": bad port "-1" (want 0..65535)`},
		{"::1:7", "", `"::1:7": write an IPv6 host in brackets, e.g. "[::1]:7007"`},
	} {
		got, err := normalizeAddress(tc.in)
		if got != tc.want || errString(err) != tc.err {
			t.Errorf("normalizeAddress(%q) = %q, %v; want %q, %s", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestAddrPort(t *testing.T) {
	l := Listener{Name: "a", Address: "[::1]:7007"}
	ap, err := l.AddrPort()
	if err != nil || ap != netip.MustParseAddrPort("[::1]:7007") {
		t.Errorf("got %v, %v", ap, err)
	}
	l.Address = ""
	if _, err := l.AddrPort(); !errors.Is(err, ErrNoAddress) {
		t.Errorf("empty address: got %v, want ErrNoAddress", err)
	}
	l.Address = "nope"
	if _, err := l.AddrPort(); err == nil {
		t.Error("bad address: no error")
	}
}

func TestOverlaps(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"127.0.0.1:7", "127.0.0.1:7", true},
		{"127.0.0.1:7", "127.0.0.1:8", false},
		{"127.0.0.1:0", "127.0.0.1:0", false},
		{"127.0.0.1:7", "127.0.0.2:7", false},
		{"0.0.0.0:7", "127.0.0.1:7", true},
		{"0.0.0.0:7", "0.0.0.0:7", true},
		{"0.0.0.0:7", "[::1]:7", false},
		{"[::]:7", "[::1]:7", true},
		{"[::]:7", "10.0.0.1:7", true},
		{"[::]:7", "0.0.0.0:7", true},
		{"[::]:7", "[::]:7", true},
		{"[::1]:7", "127.0.0.1:7", false},
		{"[::1]:7", "[::2]:7", false},
		{"[::ffff:127.0.0.1]:7", "127.0.0.1:7", true},
		{"[::ffff:127.0.0.1]:7", "127.0.0.2:7", false},
		{"[::ffff:0.0.0.0]:7", "127.0.0.1:7", true},
		{"[::ffff:0.0.0.0]:7", "[::ffff:10.1.2.3]:7", true},
		{"[::ffff:0.0.0.0]:7", "[::1]:7", false},
		{"[::ffff:127.0.0.1]:7", "[::]:7", true},
		{"[::ffff:127.0.0.1]:0", "127.0.0.1:0", false},
	} {
		a, b := netip.MustParseAddrPort(tc.a), netip.MustParseAddrPort(tc.b)
		for _, pair := range [][2]netip.AddrPort{{a, b}, {b, a}} {
			s := newBindSet(0)
			s.add(TCP, pair[0], 0)
			if got := s.add(TCP, pair[1], 1) == 0; got != tc.want {
				t.Errorf("%s then %s: overlap %v, want %v", pair[0], pair[1], got, tc.want)
			}
			if got := s.add(UDP, pair[1], 2); got != -1 {
				t.Errorf("%s then udp %s: overlaps listener %d across protocols", pair[0], pair[1], got)
			}
		}
	}
}

// TestOverlapsFirst checks that a listener is reported against the earliest one it overlaps.
func TestOverlapsFirst(t *testing.T) {
	s := newBindSet(0)
	for i, tc := range []struct {
		addr string
		want int
	}{
		{"127.0.0.1:7", -1},
		{"[::1]:7", -1},
		{"10.0.0.1:7", -1},
		{"0.0.0.0:7", 0},
		{"[::]:7", 0},
		{"[::2]:7", 4},
		{"10.0.0.1:7", 2},
		{"[::ffff:10.0.0.2]:7", 3},
	} {
		if got := s.add(TCP, netip.MustParseAddrPort(tc.addr), i); got != tc.want {
			t.Errorf("listener %d on %s: overlaps %d, want %d", i, tc.addr, got, tc.want)
		}
	}
}
