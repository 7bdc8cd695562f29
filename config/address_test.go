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
		{"0.0.0.0:7", "[::1]:7", false},
		{"[::]:7", "[::1]:7", true},
		{"[::]:7", "10.0.0.1:7", true},
		{"[::]:7", "0.0.0.0:7", true},
		{"[::1]:7", "127.0.0.1:7", false},
	} {
		a, b := netip.MustParseAddrPort(tc.a), netip.MustParseAddrPort(tc.b)
		if got := overlaps(a, b); got != tc.want {
			t.Errorf("overlaps(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := overlaps(b, a); got != tc.want {
			t.Errorf("overlaps(%s, %s) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestParseCIDR(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"10.0.0.1", "10.0.0.1/32", ""},
		{"::1", "::1/128", ""},
		{"::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104", ""},
		{"0.0.0.0/0", "0.0.0.0/0", ""},
		{"10.0.0.1/8", "", `CIDR "10.0.0.1/8" has host bits set (did you mean "10.0.0.0/8"?)`},
		{"fe80::1%eth0", "", `bad CIDR "fe80::1%eth0" (want e.g. "10.0.0.0/8" or "::1/128")`},
		{"example.com", "", `bad CIDR "example.com" (want e.g. "10.0.0.0/8" or "::1/128")`},
		{"", "", `bad CIDR "" (want e.g. "10.0.0.0/8" or "::1/128")`},
	} {
		p, err := parseCIDR(tc.in)
		got := ""
		if err == nil {
			got = p.String()
		}
		if got != tc.want || errString(err) != tc.err {
			t.Errorf("parseCIDR(%q) = %q, %v; want %q, %s", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestDurationText(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"5s", ""},
		{"0s", ""},
		{"1h30m", ""},
		{"1.5s", ""},
		{"5", `missing unit in duration "5" (write e.g. "5s")`},
		{"", `empty duration (write e.g. "30s")`},
		{"-1s", `duration "-1s" must not be negative`},
		{"5 s", `bad duration "5 s" (write e.g. "30s", "5m", "1h30m")`},
		{"1e3", `bad duration "1e3" (write e.g. "30s", "5m", "1h30m")`},
	} {
		var d duration
		if err := d.UnmarshalText([]byte(tc.in)); errString(err) != tc.err {
			t.Errorf("%q: got %v, want %s", tc.in, err, tc.err)
		}
	}
}
