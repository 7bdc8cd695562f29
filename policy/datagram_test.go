package policy

import (
	"net/netip"
	"testing"

	"echogate/config"
)

func TestAdmitDatagramInvalidAddress(t *testing.T) {
	p := New(&config.Listener{Protocol: config.UDP})
	if got := p.AdmitDatagram(netip.AddrPortFrom(netip.Addr{}, 5000)); got != DropCIDR {
		t.Errorf("AdmitDatagram(invalid address, port 5000) = %v, want %v", got, DropCIDR)
	}
}

func TestAdmitDatagram(t *testing.T) {
	for _, tc := range []struct {
		name  string
		allow []netip.Prefix
		deny  []uint16
		src   string
		want  Verdict
	}{
		{"plain v4", nil, config.DefaultUDPDenySources, "127.0.0.1:40000", Pass},
		{"plain v6", nil, config.DefaultUDPDenySources, "[::1]:40000", Pass},
		{"port 0", nil, nil, "127.0.0.1:0", DropSourcePort},
		{"port 0 v6", nil, nil, "[::1]:0", DropSourcePort},
		{"echo port", nil, config.DefaultUDPDenySources, "127.0.0.1:7", DropSourcePort},
		{"daytime port", nil, config.DefaultUDPDenySources, "127.0.0.1:13", DropSourcePort},
		{"qotd port", nil, config.DefaultUDPDenySources, "127.0.0.1:17", DropSourcePort},
		{"chargen port", nil, config.DefaultUDPDenySources, "[::1]:19", DropSourcePort},
		{"time port", nil, config.DefaultUDPDenySources, "127.0.0.1:37", DropSourcePort},
		{"port next to a denied one", nil, config.DefaultUDPDenySources, "127.0.0.1:8", Pass},
		{"empty deny list lets 7 through", nil, nil, "127.0.0.1:7", Pass},
		{"custom deny list", nil, []uint16{53, 123}, "127.0.0.1:123", DropSourcePort},
		{"custom deny list replaces default", nil, []uint16{53}, "127.0.0.1:19", Pass},
		{"multicast v4", nil, nil, "224.0.0.1:5000", DropBroadcast},
		{"multicast v6", nil, nil, "[ff02::1]:5000", DropBroadcast},
		{"multicast mapped", nil, nil, "[::ffff:239.1.1.1]:5000", DropBroadcast},
		{"broadcast", nil, nil, "255.255.255.255:5000", DropBroadcast},
		{"broadcast mapped", nil, nil, "[::ffff:255.255.255.255]:5000", DropBroadcast},
		{"unspecified v4", nil, nil, "0.0.0.0:5000", DropBroadcast},
		{"unspecified v6", nil, nil, "[::]:5000", DropBroadcast},
		{"unspecified mapped", nil, nil, "[::ffff:0.0.0.0]:5000", DropBroadcast},
		{"broadcast even when allowed", prefixes("0.0.0.0/0"), nil, "255.255.255.255:5000", DropBroadcast},
		{"outside allow", loopback, nil, "10.0.0.1:5000", DropCIDR},
		{"outside allow v6", loopback, nil, "[2001:db8::1]:5000", DropCIDR},
		{"inside allow mapped", loopback, nil, "[::ffff:127.0.0.2]:5000", Pass},
		{"inside allow zoned", prefixes("fe80::/10"), nil, "[fe80::1%eth0]:5000", Pass},
		{"empty allow drops all", []netip.Prefix{}, nil, "127.0.0.1:5000", DropCIDR},
		{"port rule before allow rule", loopback, []uint16{7}, "10.0.0.1:7", DropSourcePort},
		{"invalid source", nil, nil, "", DropSourcePort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := addrPort(tc.src)
			p := New(&config.Listener{Protocol: config.UDP, Allow: tc.allow, UDPDenySources: tc.deny})
			if got := p.AdmitDatagram(src); got != tc.want {
				t.Errorf("AdmitDatagram(%s) = %v, want %v", tc.src, got, tc.want)
			}
		})
	}
}
