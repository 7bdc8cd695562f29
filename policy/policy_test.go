package policy

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"echogate/config"
)

// prefixes parses CIDRs for a test table; nil stays nil.
func prefixes(cidrs ...string) []netip.Prefix {
	if cidrs == nil {
		return nil
	}
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}

// loopback is an allow list of the loopback addresses.
var loopback = prefixes("127.0.0.0/8", "::1/128")

// addrPort parses an address and port for a test table; "" is the zero AddrPort.
func addrPort(s string) netip.AddrPort {
	if s == "" {
		return netip.AddrPort{}
	}
	return netip.MustParseAddrPort(s)
}

// addr parses an address, zone included, for a test table; "" is the zero Addr.
func addr(t testing.TB, s string) netip.Addr {
	t.Helper()
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return a
}

func TestNewCopiesListener(t *testing.T) {
	l := &config.Listener{
		Name: "diag", Protocol: config.TCP, Mode: config.ModeRaw, Commands: true,
		MaxConns: 10, MaxConnsPerIP: 2, MaxLine: 64, MaxOutput: 128, MaxDatagram: 512,
		MaxUDPPeers: 7, IdleTimeout: time.Second, LineTimeout: 2 * time.Second,
		Allow:          prefixes("10.0.0.0/8"),
		UDPDenySources: []uint16{7},
	}
	p := New(l)
	want := Policy{Name: "diag", Protocol: config.TCP, Mode: config.ModeRaw, Commands: true, MaxConns: 10,
		MaxConnsPerIP: 2, MaxLine: 64, MaxOutput: 128, MaxDatagram: 512, MaxUDPPeers: 7,
		IdleTimeout: time.Second, LineTimeout: 2 * time.Second}
	got := *p
	got.allow, got.adminAllow, got.denyPorts = nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("New = %+v, want %+v", got, want)
	}
	l.Allow[0] = netip.MustParsePrefix("192.168.0.0/16")
	l.UDPDenySources[0] = 9
	if !p.Admit(addr(t, "10.1.2.3")) {
		t.Error("changing the listener's allow list after New changed the policy")
	}
	if v := p.AdmitDatagram(netip.MustParseAddrPort("10.1.2.3:7")); v != DropSourcePort {
		t.Errorf("changing the listener's deny ports after New changed the policy: %v", v)
	}
	if m := New(&config.Listener{Mode: config.ModeRaw}).Mode; m != config.ModeRaw {
		t.Errorf("raw mode gave mode %q", m)
	}
}

func TestAdmit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		allow []string
		addr  string
		want  bool
	}{
		{"nil list admits ipv4", nil, "203.0.113.9", true},
		{"nil list admits ipv6", nil, "2001:db8::1", true},
		{"nil list refuses invalid", nil, "", false},
		{"empty list admits no one", []string{}, "127.0.0.1", false},
		{"ipv4 inside", []string{"127.0.0.1/32"}, "127.0.0.1", true},
		{"ipv4 outside", []string{"127.0.0.1/32"}, "127.0.0.2", false},
		{"second rule matches", []string{"10.0.0.0/8", "127.0.0.0/8"}, "127.9.9.9", true},
		{"ipv6 inside", []string{"::1/128"}, "::1", true},
		{"ipv6 outside", []string{"2001:db8::/32"}, "2001:db9::1", false},
		{"mapped matches ipv4 prefix", []string{"127.0.0.0/8"}, "::ffff:127.0.0.1", true},
		{"mapped outside ipv4 prefix", []string{"10.0.0.0/8"}, "::ffff:127.0.0.1", false},
		{"mapped prefix matches ipv4", []string{"::ffff:10.0.0.0/104"}, "10.2.3.4", true},
		{"mapped prefix matches mapped", []string{"::ffff:10.0.0.0/104"}, "::ffff:10.2.3.4", true},
		{"unmasked prefix", []string{"10.1.2.3/8"}, "10.200.0.1", true},
		{"zone stripped", []string{"fe80::/10"}, "fe80::1%eth0", true},
		{"zone stripped outside", []string{"fe80::1/128"}, "fe80::2%eth0", false},
		{"ipv4 /0 admits ipv4", []string{"0.0.0.0/0"}, "198.51.100.1", true},
		{"ipv4 /0 admits mapped", []string{"0.0.0.0/0"}, "::ffff:198.51.100.1", true},
		{"ipv4 /0 refuses ipv6", []string{"0.0.0.0/0"}, "2001:db8::1", false},
		{"ipv6 /0 admits ipv6", []string{"::/0"}, "2001:db8::1", true},
		{"ipv6 /0 refuses ipv4", []string{"::/0"}, "127.0.0.1", false},
		{"ipv6 /0 refuses mapped", []string{"::/0"}, "::ffff:127.0.0.1", false},
		{"list refuses invalid", []string{"0.0.0.0/0", "::/0"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(&config.Listener{Allow: prefixes(tc.allow...)})
			if got := p.Admit(addr(t, tc.addr)); got != tc.want {
				t.Errorf("Admit(%q) with allow %q = %v, want %v", tc.addr, tc.allow, got, tc.want)
			}
		})
	}
}

func TestAdminAllowed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		admin []netip.Prefix
		addr  string
		want  bool
	}{
		{"default loopback v4", config.DefaultAdminAllow, "127.0.0.1", true},
		{"default loopback v6", config.DefaultAdminAllow, "::1", true},
		{"default loopback mapped", config.DefaultAdminAllow, "::ffff:127.0.0.2", true},
		{"default refuses lan", config.DefaultAdminAllow, "192.168.1.1", false},
		{"default refuses v6 lan", config.DefaultAdminAllow, "fd00::1", false},
		{"nil allows no one", nil, "127.0.0.1", false},
		{"explicit network", prefixes("10.0.0.0/8"), "10.0.0.1", true},
		{"explicit network refuses loopback", prefixes("10.0.0.0/8"), "127.0.0.1", false},
		{"invalid refused", config.DefaultAdminAllow, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(&config.Listener{AdminAllow: tc.admin})
			if got := p.AdminAllowed(addr(t, tc.addr)); got != tc.want {
				t.Errorf("AdminAllowed(%q) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}
