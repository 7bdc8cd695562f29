package policy

import (
	"net/netip"
	"testing"
)

func TestOwnSockets(t *testing.T) {
	var o OwnSockets
	o.Set([]OwnSocket{
		{Addr: netip.MustParseAddrPort("127.0.0.1:7001")},
		{Addr: netip.MustParseAddrPort("[::1]:7002")},
		{Addr: netip.MustParseAddrPort("[::ffff:127.0.0.2]:7003")},
		{Addr: netip.MustParseAddrPort("0.0.0.0:7004")},
		{Addr: netip.MustParseAddrPort("[::]:7005")},
		{Addr: netip.MustParseAddrPort("[::]:7006"), V6Only: true},
		{Addr: netip.MustParseAddrPort("192.0.2.7:7007")},
	})
	o.SetLocal([]netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("::ffff:198.51.100.1")})
	if got := o.LocalCount(); got != 4 {
		t.Errorf("LocalCount = %d, want 4", got)
	}
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"127.0.0.1:7001", true},
		{"[::ffff:127.0.0.1]:7001", true}, // as a dual-stack socket reports it
		{"127.0.0.2:7001", false},         // another address on the port of an exact bind
		{"127.0.0.1:7000", false},
		{"127.0.0.1:40000", false},
		{"[::1]:7002", true},
		{"127.0.0.1:7002", false},
		{"127.0.0.2:7003", true},
		{"127.0.0.1:7004", true}, // a wildcard socket sends from every loopback address
		{"127.9.9.9:7004", true},
		{"192.0.2.1:7004", true}, // and from the host's addresses
		{"198.51.100.1:7004", true},
		{"192.0.2.99:7004", false}, // but not from someone else's
		{"[::1]:7004", false},      // 0.0.0.0 sends IPv4 only
		{"127.0.0.1:7005", true},   // [::] is dual-stack
		{"[::1]:7005", true},
		{"[2001:db8::1]:7005", true},
		{"[fe80::1%eth0]:7005", true},
		{"[fe80::2]:7005", false},
		{"127.0.0.1:7006", false}, // IPv6-only
		{"[::1]:7006", true},
		{"192.0.2.7:7007", true},
		{"192.0.2.1:7007", false},
	} {
		if got := o.Contains(netip.MustParseAddrPort(tc.src)); got != tc.want {
			t.Errorf("Contains(%s) = %v, want %v", tc.src, got, tc.want)
		}
	}
	o.Set(nil)
	if o.Contains(netip.MustParseAddrPort("127.0.0.1:7001")) {
		t.Error("Contains after Set(nil) = true")
	}
	var zero OwnSockets
	if zero.Contains(netip.MustParseAddrPort("127.0.0.1:7001")) {
		t.Error("the zero OwnSockets contains a socket")
	}
	o.Set([]OwnSocket{{Addr: netip.MustParseAddrPort("0.0.0.0:7004")}})
	src := netip.MustParseAddrPort("[::ffff:192.0.2.1]:7004")
	if n := testing.AllocsPerRun(100, func() { o.Contains(src) }); n != 0 {
		t.Errorf("Contains: %v allocations per call, want 0", n)
	}
}
