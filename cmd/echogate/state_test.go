package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// expectState checks the daemon's state everywhere it is reported: /readyz, echogate_state, `echogate
// status`, /stats json.
func expectState(t *testing.T, web, sock, addr, state string) {
	t.Helper()
	code, body := echotest.HTTPGet(t, "http://"+web+"/readyz")
	wantCode, wantBody := http.StatusOK, "ready\n"
	if state != "ready" {
		wantCode, wantBody = http.StatusServiceUnavailable, "not ready: state "+state+"\n"
	}
	if code != wantCode || body != wantBody {
		t.Errorf("state %s: /readyz %d %q, want %d %q", state, code, body, wantCode, wantBody)
	}
	if v, _ := echotest.MetricValue(echotest.Scrape(t, web), "echogate_state", "state", state); v != 1 {
		t.Errorf("state %s: echogate_state{state=%q} = %v", state, state, v)
	}
	if rep, _ := askStatus(t, sock); rep.State != state {
		t.Errorf("state %s: echogate status says %q", state, rep.State)
	}
	if s := echotest.Stats(t, addr); s.State != state {
		t.Errorf("state %s: /stats json says %q", state, s.State)
	}
}

// `echogate state` moves the daemon between ready, drain and maint; drain and maint are "not ready" to
// health checks while every listener keeps serving old and new clients.
func TestStateCommand(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "control.sock")
	d := echotest.Start(t, httpTOML(sock)+echotest.TCPListener("diag", "127.0.0.1:0")+
		echotest.Listener("udp-echo", "udp", "127.0.0.1:0"))
	web, addr := d.HTTPAddr(), d.Addr("diag")
	old := echotest.DialTCP(t, addr)
	expectState(t, web, sock, addr, "ready")
	for _, tc := range []struct{ state, was string }{{"drain", "ready"}, {"maint", "drain"}, {"ready", "maint"}} {
		out, errOut, code := echotest.RunCLI(t, "state", "-control", sock, tc.state)
		if want := "ok state=" + tc.state + " was=" + tc.was + "\n"; code != 0 || out != want {
			t.Fatalf("state %s: exit %d, %q %q, want %q", tc.state, code, out, errOut, want)
		}
		expectState(t, web, sock, addr, tc.state)
		echotest.RoundTrip(t, old, "still served "+tc.state+"\n", "still served "+tc.state+"\n")
		echotest.TCPEcho(t, addr, "new client "+tc.state+"\n")
		echotest.UDPEcho(t, d.Addr("udp-echo"), "udp "+tc.state)
	}
	if out, errOut, code := echotest.RunCLI(t, "state", "-control", sock); code != 0 || out != "ok state=ready\n" {
		t.Fatalf("state without argument: exit %d, %q %q", code, out, errOut)
	}
	if _, errOut, code := echotest.RunCLI(t, "state", "-control", sock, "down"); code != 1 || !strings.Contains(errOut, `unknown state "down"`) {
		t.Fatalf("state down: exit %d, %q", code, errOut)
	}
	if _, err := d.WaitLog(`msg=state state=ready was=maint by="control socket"`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// [daemon] state is applied by a reload that changes it; a state set at run time outlives reloads that
// leave the key as it was.
func TestStateKeyOnReload(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "control.sock")
	listener := echotest.TCPListener("diag", "127.0.0.1:0")
	d := echotest.Start(t, httpTOML(sock, `state = "drain"`)+listener)
	web, addr := d.HTTPAddr(), d.Addr("diag")
	expectState(t, web, sock, addr, "drain")
	if _, _, code := echotest.RunCLI(t, "state", "-control", sock, "ready"); code != 0 {
		t.Fatal("state ready failed")
	}
	reloadTo(t, d, sock, httpTOML(sock, `state = "drain"`, `log_level = "debug"`)+listener) // state unchanged
	expectState(t, web, sock, addr, "ready")
	reloadTo(t, d, sock, httpTOML(sock, `state = "maint"`)+listener)
	expectState(t, web, sock, addr, "maint")
	if _, err := d.WaitLog(`msg=state state=maint was=ready by=reload`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// /healthz turns 503 while the event loop is stalled (the test hook of binaries built with -tags
// echogate_testhooks), and back to 200 after; meanwhile the kernel drops datagrams that overflow a UDP
// socket's receive buffer, and the scrape after shows them, with the stall in the busy-time histogram.
func TestHealthzStalledLoop(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "control.sock")
	d := echotest.Start(t, httpTOML(sock)+echotest.Listener("udp-echo", "udp", "127.0.0.1:0"),
		echotest.Options{Env: []string{"ECHOGATE_TEST_STALL=3s"}})
	if !strings.Contains(strings.Join(d.Lines(), "\n"), "event=\"armed: SIGUSR1 stalls the event loop\"") {
		t.Skip("the binary was built without -tags echogate_testhooks (make test builds it with them)")
	}
	web := d.HTTPAddr()
	if code, body := echotest.HTTPGet(t, "http://"+web+"/healthz"); code != 200 {
		t.Fatalf("/healthz before: %d %q", code, body)
	}
	d.Signal(syscall.SIGUSR1)
	if _, err := d.WaitLog("event=\"stalling the event loop\"", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	u := echotest.ListenUDP(t, "127.0.0.1:0")
	big := strings.Repeat("x", 60000)
	for range 40 { // 2.4 MB into a receive buffer of about 200 KB: bounded, loopback only
		echotest.SendUDP(t, u, d.Addr("udp-echo"), big)
	}
	code, body := echotest.HTTPGet(t, "http://"+web+"/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "did not answer within 1s") {
		t.Fatalf("/healthz while the loop is stalled: %d %q, want 503", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for code != 200 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		code, body = echotest.HTTPGet(t, "http://"+web+"/healthz")
	}
	if code != 200 {
		t.Fatalf("/healthz after the stall: %d %q", code, body)
	}
	m := echotest.Scrape(t, web)
	if v, _ := echotest.MetricValue(m, "echogate_udp_receive_dropped_total", "listener", "udp-echo"); v < 1 {
		t.Errorf("echogate_udp_receive_dropped_total = %v after overflowing the socket", v)
	}
	h := m["echogate_loop_busy_seconds"].GetMetric()[0].GetHistogram()
	var underOneSecond uint64
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == 1 {
			underOneSecond = b.GetCumulativeCount()
		}
	}
	if h.GetSampleCount()-underOneSecond < 1 {
		t.Errorf("no wake-up over 1 s in echogate_loop_busy_seconds: %v", h)
	}
}
