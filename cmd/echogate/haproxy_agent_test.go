package main

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"

	"echogate/internal/echotest"
)

// HAProxy's own agent-check against a mode "agent" listener: `echogate state drain` turns the server to
// DRAIN in HAProxy's view (its stats socket), maint to MAINT, ready back to UP with agent_weight applied.
func TestHAProxyAgentCheck(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "control.sock")
	d := echotest.Start(t, controlTOML(sock)+echotest.TCPListener("diag", "127.0.0.1:0")+
		echotest.TCPListener("agent", "127.0.0.1:0", `mode = "agent"`, `agent_listeners = ["diag"]`, "agent_weight = 50"))
	_, agentPort, err := net.SplitHostPort(d.Addr("agent"))
	if err != nil {
		t.Fatal(err)
	}
	h := echotest.StartHAProxy(t, fmt.Sprintf("backend echo\n    server s1 %s weight 100 check inter 100ms "+
		"agent-check agent-port %s agent-inter 100ms\n", d.Addr("diag"), agentPort))
	h.WaitFor("echo", "s1", `UP with weight 50 ("up ready 50%")`, func(st map[string]string) bool {
		return st["status"] == "UP" && st["weight"] == "50"
	})
	for _, tc := range []struct{ state, status string }{{"drain", "DRAIN"}, {"maint", "MAINT"}, {"ready", "UP"},
		{"drain", "DRAIN"}, {"ready", "UP"}} {
		if out, errOut, code := echotest.RunCLI(t, "state", "-control", sock, tc.state); code != 0 {
			t.Fatalf("state %s: %d %s%s", tc.state, code, out, errOut)
		}
		h.WaitStatus("echo", "s1", tc.status)
	}
	s := echotest.Stats(t, d.Addr("diag"))
	if n := s.Listeners["agent"].HealthChecks; n < 5 {
		t.Errorf("health_checks %d after HAProxy's checks", n)
	}
}

// HAProxy's `httpchk GET /healthz/<listener>` for a UDP listener goes DOWN when a reload removes it.
func TestHAProxyHTTPCheck(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "control.sock")
	tcp := echotest.TCPListener("diag", "127.0.0.1:0")
	d := echotest.Start(t, httpTOML(sock)+tcp+echotest.Listener("udp-echo", "udp", "127.0.0.1:0"))
	h := echotest.StartHAProxy(t, fmt.Sprintf("backend web\n    option httpchk GET /healthz/udp-echo\n"+
		"    server w1 %s check inter 100ms fall 1 rise 1\n", d.HTTPAddr()))
	h.WaitStatus("web", "w1", "UP")
	reloadTo(t, d, sock, httpTOML(sock)+tcp)
	if st := h.WaitStatus("web", "w1", "DOWN"); st["last_chk"] != "Not Found" {
		t.Errorf("last_chk %q, want Not Found", st["last_chk"])
	}
}
