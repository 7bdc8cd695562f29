package policy

import (
	"net/netip"
	"testing"

	"echogate/config"
)

func TestConnVerdictString(t *testing.T) {
	for v, want := range map[ConnVerdict]string{
		Admitted: "admitted", RefuseCIDR: "refuse-cidr", RefuseBusy: "refuse-busy", RefusePerIP: "refuse-per-ip", 99: "unknown",
	} {
		if got := v.String(); got != want {
			t.Errorf("%d: %q, want %q", int(v), got, want)
		}
	}
}

func TestAdmitConn(t *testing.T) {
	for _, tc := range []struct {
		name             string
		allow            []netip.Prefix
		maxConns, perIP  int
		src              string
		open, openFromIP int
		want             ConnVerdict
	}{
		{"first connection", nil, 10, 0, "127.0.0.1:40000", 0, 0, Admitted},
		{"below max_conns", nil, 10, 0, "127.0.0.1:40000", 9, 9, Admitted},
		{"at max_conns", nil, 10, 0, "127.0.0.1:40000", 10, 0, RefuseBusy},
		{"over max_conns", nil, 10, 0, "127.0.0.1:40000", 11, 0, RefuseBusy},
		{"max_conns 1", nil, 1, 0, "[::1]:40000", 1, 1, RefuseBusy},
		{"per-ip off", nil, 1 << 20, 0, "127.0.0.1:40000", 5000, 5000, Admitted},
		{"below per-ip", nil, 10, 3, "127.0.0.1:40000", 2, 2, Admitted},
		{"at per-ip", nil, 10, 3, "127.0.0.1:40000", 3, 3, RefusePerIP},
		{"per-ip 1", nil, 10, 1, "127.0.0.1:40000", 1, 1, RefusePerIP},
		{"others do not count for per-ip", nil, 10, 1, "127.0.0.2:40000", 9, 0, Admitted},
		{"inside allow", loopback, 10, 0, "127.0.0.1:40000", 0, 0, Admitted},
		{"inside allow mapped", loopback, 10, 0, "[::ffff:127.0.0.1]:40000", 0, 0, Admitted},
		{"inside allow zoned", prefixes("fe80::/10"), 10, 0, "[fe80::1%eth0]:40000", 0, 0, Admitted},
		{"outside allow", loopback, 10, 0, "10.0.0.1:40000", 0, 0, RefuseCIDR},
		{"outside allow v6", loopback, 10, 0, "[2001:db8::1]:40000", 0, 0, RefuseCIDR},
		{"empty allow refuses all", []netip.Prefix{}, 10, 0, "127.0.0.1:40000", 0, 0, RefuseCIDR},
		{"allow before max_conns", loopback, 10, 0, "10.0.0.1:40000", 10, 0, RefuseCIDR},
		{"allow before per-ip", loopback, 10, 1, "10.0.0.1:40000", 1, 1, RefuseCIDR},
		{"max_conns before per-ip", nil, 10, 1, "127.0.0.1:40000", 10, 1, RefuseBusy},
		{"invalid address", nil, 10, 0, "", 0, 0, RefuseCIDR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := addrPort(tc.src)
			p := New(&config.Listener{Protocol: config.TCP, Allow: tc.allow, MaxConns: tc.maxConns, MaxConnsPerIP: tc.perIP})
			if got := p.AdmitConn(src, tc.open, tc.openFromIP); got != tc.want {
				t.Errorf("AdmitConn(%s, %d, %d) = %v, want %v", tc.src, tc.open, tc.openFromIP, got, tc.want)
			}
		})
	}
}
