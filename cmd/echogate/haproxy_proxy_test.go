package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
	"echogate/listeners"
)

// haproxyProxySections puts two HAProxy frontends in front of two echogate listeners: one sends PROXY v1
// (send-proxy), one v2 (send-proxy-v2), both connecting from 127.0.0.2 and health-checking echogate with a
// header of their own (check-send-proxy) every 100 ms.
const haproxyProxySections = `frontend fe_v1
    bind %[1]s
    default_backend be_v1
backend be_v1
    server eg %[3]s source 127.0.0.2 send-proxy check check-send-proxy inter 100ms
frontend fe_v2
    bind %[2]s
    default_backend be_v2
backend be_v2
    server eg %[4]s source 127.0.0.2 send-proxy-v2 check check-send-proxy inter 100ms
`

// startProxyingHAProxy runs HAProxy with PROXY v1 in front of backend1 and v2 in front of backend2, and
// returns its two frontends' addresses once both accept.
func startProxyingHAProxy(t *testing.T, backend1, backend2 string) (v1, v2 string) {
	t.Helper()
	v1, v2 = echotest.FreeAddr(t, "tcp"), echotest.FreeAddr(t, "tcp")
	echotest.StartHAProxy(t, fmt.Sprintf(haproxyProxySections, v1, v2, backend1, backend2))
	for _, addr := range []string{v1, v2} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := echotest.DialErr(addr, echotest.DialOptions{From: "127.0.0.3"}) // a client allow admits
			if err == nil {
				_ = c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("haproxy does not listen on %s: %v", addr, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return v1, v2
}

// Real HAProxy in front of echogate, with send-proxy and send-proxy-v2: a client going through it sees its
// own address as peer= and HAProxy's as via=, and is let in by an allow that admits it but not HAProxy;
// HAProxy's own health checks (check-send-proxy: a v1 line naming HAProxy's own socket, a v2 LOCAL) are
// served and counted as health checks on both listeners.
func TestHAProxy(t *testing.T) {
	t.Parallel()
	pp := []string{`proxy_protocol = "required"`, `proxy_allow = ["127.0.0.2/32"]`, `allow = ["127.0.0.3/32"]`}
	d := echotest.Start(t, echotest.TCPListener("stats", "127.0.0.1:0")+echotest.TCPListener("pp1", "127.0.0.1:0", pp...)+
		echotest.TCPListener("pp2", "127.0.0.1:0", pp...))
	v1, v2 := startProxyingHAProxy(t, d.Addr("pp1"), d.Addr("pp2"))
	for _, front := range []string{v1, v2} {
		c := echotest.DialFrom(t, "127.0.0.3", front)
		echotest.RoundTrip(t, c, "through haproxy\n", "through haproxy\n")
		_, v := askWhoami(t, c)
		if v["peer"] != c.LocalAddr().String() || !strings.HasPrefix(v["via"], "127.0.0.2:") {
			t.Errorf("through %s: peer=%s via=%s, want the client %s and HAProxy on 127.0.0.2", front, v["peer"],
				v["via"], c.LocalAddr())
		}
		_ = c.Close()
	}
	s := echotest.WaitStats(t, d.Addr("stats"), "HAProxy's health checks", func(s listeners.Snapshot) bool {
		return s.Listeners["pp1"].HealthChecks >= 2 && s.Listeners["pp2"].HealthChecks >= 2
	})
	for _, name := range []string{"pp1", "pp2"} {
		if l := s.Listeners[name]; l.ProxyErrors != 0 || l.RefusedCIDR != 0 || l.Accepted < 3 {
			t.Errorf("%s: proxy_errors %d refused_cidr %d accepted %d", name, l.ProxyErrors, l.RefusedCIDR, l.Accepted)
		}
	}
}
