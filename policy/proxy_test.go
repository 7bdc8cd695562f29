package policy

import (
	"testing"
	"time"

	"echogate/config"
)

// proxy_protocol and proxy_allow become the policy's mode and trusted balancers; an unset mode is off.
func TestProxyPolicy(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		allow   []string
		want    ProxyMode
		trusted map[string]bool
	}{
		{"", nil, ProxyOff, map[string]bool{"127.0.0.1": false}},
		{config.ProxyOff, []string{"10.0.0.0/8"}, ProxyOff, map[string]bool{"10.1.1.1": true}},
		{config.ProxyOptional, []string{"10.0.0.0/8", "::1/128"}, ProxyOptional,
			map[string]bool{"10.1.1.1": true, "::ffff:10.1.1.1": true, "::1": true, "192.0.2.1": false, "": false}},
		{config.ProxyRequired, []string{"::ffff:10.0.0.0/104"}, ProxyRequired, map[string]bool{"10.9.9.9": true, "11.0.0.1": false}},
	} {
		p := New(&config.Listener{ProxyProtocol: tc.mode, ProxyAllow: prefixes(tc.allow...), ProxyTimeout: time.Second})
		if p.Proxy != tc.want || p.ProxyTimeout != time.Second {
			t.Errorf("%q: mode %v timeout %v", tc.mode, p.Proxy, p.ProxyTimeout)
		}
		for a, want := range tc.trusted {
			if got := p.ProxyTrusted(addr(t, a)); got != want {
				t.Errorf("%q %v: ProxyTrusted(%s) = %v", tc.mode, tc.allow, a, got)
			}
		}
	}
}

// Before its header, a balancer's connection meets only max_conns.
func TestAdmitBalancer(t *testing.T) {
	p := &Policy{MaxConns: 2, MaxConnsPerIP: 1, allow: prefixes("192.0.2.0/24")}
	for open, want := range []ConnVerdict{Admitted, Admitted, RefuseBusy, RefuseBusy} {
		if got := p.AdmitBalancer(open); got != want {
			t.Errorf("open %d: %v, want %v", open, got, want)
		}
	}
}
