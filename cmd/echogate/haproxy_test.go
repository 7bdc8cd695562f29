package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
	"echogate/listeners"
)

// haproxyConfig puts two HAProxy frontends in front of two echogate listeners: one sends PROXY v1
// (send-proxy), one v2 (send-proxy-v2), both connecting from 127.0.0.2 and health-checking echogate with a
// header of their own (check-send-proxy) every 100 ms.
const haproxyConfig = `global
    nbthread 1
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe_v1
    bind 127.0.0.1:%[1]d
    default_backend be_v1
backend be_v1
    server eg %[3]s source 127.0.0.2 send-proxy check check-send-proxy inter 100ms
frontend fe_v2
    bind 127.0.0.1:%[2]d
    default_backend be_v2
backend be_v2
    server eg %[4]s source 127.0.0.2 send-proxy-v2 check check-send-proxy inter 100ms
`

// startHAProxy runs haproxy in the foreground, with PROXY v1 in front of backend1 and v2 in front of backend2,
// and returns its two frontends' addresses. It is killed, by its PID, when the test ends.
func startHAProxy(t *testing.T, backend1, backend2 string) (v1, v2 string) {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed (apt-get install haproxy; .ci/run installs it)")
	}
	p1, p2 := echotest.FreeTCPPort(t), echotest.FreeTCPPort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, haproxyConfig, p1, p2, backend1, backend2), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(out.Name())
			t.Logf("haproxy output:\n%s", log)
		}
		_ = out.Close()
	})
	v1, v2 = fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.1:%d", p2)
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
	v1, v2 := startHAProxy(t, d.Addr("pp1"), d.Addr("pp2"))
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
