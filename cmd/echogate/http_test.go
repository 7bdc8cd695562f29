package main

import (
	"bufio"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// httpTOML is a [daemon] table with the HTTP endpoint on an ephemeral loopback port, a control socket at
// sock, and the given extra keys.
func httpTOML(sock string, extra ...string) string {
	return controlTOML(sock, append([]string{`http = "127.0.0.1:0"`}, extra...)...)
}

// reloadTo writes toml as the daemon's config and reloads it through the control socket sock.
func reloadTo(t *testing.T, d *echotest.Daemon, sock, toml string) {
	t.Helper()
	echotest.SaveAtomic(t, d.Config, toml)
	if out, errOut, code := echotest.RunCLI(t, "reload", "-control", sock); code != 0 {
		t.Fatalf("reload: %d %s%s", code, out, errOut)
	}
}

// The scrape passes promtool and carries the counters of known traffic, the kernel's view of the sockets,
// the daemon's own metrics and the standard process and Go collectors.
func TestHTTPMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "control.sock")
	d := echotest.Start(t, httpTOML(sock)+
		echotest.TCPListener("diag", "127.0.0.1:0", "backlog = 77", `allow = ["127.0.0.1/32"]`)+
		echotest.Listener("udp-echo", "udp", "127.0.0.1:0")+
		echotest.TCPListener("agent", "127.0.0.1:0", `mode = "agent"`, `agent_listeners = ["udp-echo"]`))
	web := d.HTTPAddr()
	c := echotest.DialTCP(t, d.Addr("diag"))
	for _, line := range []string{"one\n", "two\n", "three\n"} {
		echotest.RoundTrip(t, c, line, line)
	}
	echotest.UDPEcho(t, d.Addr("udp-echo"), "ping")
	echotest.UDPEcho(t, d.Addr("udp-echo"), "pong")
	if got := echotest.ReadToEOF(t, echotest.DialTCP(t, d.Addr("agent"))); got != "up ready\n" {
		t.Fatalf("agent: %q", got)
	}
	if _, err := echotest.DialErr(d.Addr("diag"), echotest.DialOptions{From: "127.0.0.2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitLog("reason=cidr", 5*time.Second); err != nil {
		t.Fatal(err)
	}

	m := echotest.Scrape(t, web)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"echogate_lines_total", []string{"listener", "diag"}, 3},
		{"echogate_bytes_received_total", []string{"listener", "diag"}, 14},
		{"echogate_bytes_sent_total", []string{"listener", "diag"}, 14},
		{"echogate_connections_accepted_total", []string{"listener", "diag"}, 1},
		{"echogate_connections_open", []string{"listener", "diag"}, 1},
		{"echogate_connections_refused_total", []string{"listener", "diag", "reason", "cidr"}, 1},
		{"echogate_connections_refused_total", []string{"listener", "diag", "reason", "busy"}, 0},
		{"echogate_datagrams_total", []string{"listener", "udp-echo"}, 2},
		{"echogate_udp_peers_active", []string{"listener", "udp-echo"}, 2}, // each UDPEcho is a new socket
		{"echogate_udp_receive_dropped_total", []string{"listener", "udp-echo"}, 0},
		{"echogate_health_checks_total", []string{"listener", "agent"}, 1},
		{"echogate_listen_queue_limit", []string{"listener", "diag"}, 77},
		{"echogate_listen_queue_length", []string{"listener", "diag"}, 0},
		{"echogate_listener_serving", []string{"listener", "udp-echo"}, 1},
		{"echogate_state", []string{"state", "ready"}, 1},
		{"echogate_state", []string{"state", "drain"}, 0},
		{"echogate_config_generation", nil, 1},
		{"echogate_reloads_total", []string{"result", "ok"}, 0},
		{"echogate_build_info", []string{"version", "dev"}, 1},
		{"echogate_logs_dropped_total", nil, 0},
	} {
		if got, ok := echotest.MetricValue(m, tc.name, tc.labels...); !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	for _, name := range []string{"echogate_loop_busy_seconds", "echogate_loop_lag_seconds", "go_goroutines",
		"process_resident_memory_bytes", "process_open_fds", "echogate_config_last_reload_success_timestamp_seconds"} {
		if v, ok := echotest.MetricValue(m, name); !ok || v <= 0 {
			t.Errorf("%s = %v (found %v), want > 0", name, v, ok)
		}
	}

	reloadTo(t, d, sock, httpTOML(sock)+
		echotest.TCPListener("diag", "127.0.0.1:0", "backlog = 77", `allow = ["127.0.0.1/32"]`))
	m = echotest.Scrape(t, web)
	if v, _ := echotest.MetricValue(m, "echogate_reloads_total", "result", "ok"); v < 1 {
		t.Errorf("echogate_reloads_total{result=ok} = %v after a reload", v)
	}
	if _, ok := echotest.MetricValue(m, "echogate_datagrams_total", "listener", "udp-echo"); ok {
		t.Error("a removed listener is still in the scrape")
	}
}

// The endpoint answers GET and HEAD on its paths, 405 for another method, 404 for any other path, and
// /healthz/<listener> says whether one listener serves: the health-check target of a UDP listener.
func TestHTTPPaths(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "control.sock")
	d := echotest.Start(t, httpTOML(sock)+echotest.Listener("udp-echo", "udp", "127.0.0.1:0")+
		echotest.TCPListener("diag", "127.0.0.1:0"))
	base := "http://" + d.HTTPAddr()
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/healthz", 200, "ok\n"},
		{"HEAD", "/healthz", 200, ""},
		{"GET", "/readyz", 200, "ready\n"},
		{"GET", "/healthz/udp-echo", 200, "listener udp-echo is serving\n"},
		{"GET", "/healthz/nope", 404, "unknown listener \"nope\"\n"},
		{"POST", "/healthz", 405, ""},
		{"DELETE", "/metrics", 405, ""},
		{"GET", "/", 404, ""},
		{"GET", "/stats", 404, ""},
	} {
		code, body := echotest.HTTPGet(t, base+tc.path, tc.method)
		if code != tc.code || (tc.body != "" || tc.method == "HEAD") && body != tc.body {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, code, body, tc.code, tc.body)
		}
	}
	// a header larger than MaxHeaderBytes is refused
	req, _ := http.NewRequest("GET", base+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 431 {
		t.Errorf("a 64 KiB header: %v %v, want 431", resp, err)
	}

	reloadTo(t, d, sock, httpTOML(sock)+echotest.TCPListener("diag", "127.0.0.1:0"))
	if code, body := echotest.HTTPGet(t, base+"/healthz/udp-echo"); code != 404 {
		t.Fatalf("/healthz/udp-echo after its removal: %d %q, want 404", code, body)
	}
}

// Clients outside http_allow are closed before a byte is read; a reload that lets them in applies at once.
func TestHTTPAllow(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "control.sock")
	d := echotest.Start(t, httpTOML(sock, `http_allow = ["10.0.0.0/8"]`)+echotest.TCPListener("diag", "127.0.0.1:0"))
	web := d.HTTPAddr()
	c := echotest.Dial(t, web, echotest.DialOptions{Deadline: 5 * time.Second})
	_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Fatalf("a client outside http_allow was answered: %q", line)
	}
	if _, err := d.WaitLog(`msg="http endpoint" event=refused`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	reloadTo(t, d, sock, httpTOML(sock)+echotest.TCPListener("diag", "127.0.0.1:0"))
	if code, _ := echotest.HTTPGet(t, "http://"+web+"/healthz"); code != 200 {
		t.Fatalf("/healthz after http_allow = default: %d", code)
	}
	if v, _ := echotest.MetricValue(echotest.Scrape(t, web), "echogate_http_refused_total"); v != 1 {
		t.Fatalf("echogate_http_refused_total = %v, want 1", v)
	}
}

// A socket systemd passes as FileDescriptorName=http is the HTTP endpoint, and [daemon] http is ignored.
func TestHTTPActivatedSocket(t *testing.T) {
	t.Parallel()
	web := passPlainTCP(t, "http")
	d := echotest.Start(t, controlTOML(filepath.Join(t.TempDir(), "control.sock"), `http = "127.0.0.1:0"`)+
		echotest.TCPListener("diag", "127.0.0.1:0"), activated([]passedSocket{web}, true))
	if _, err := d.WaitLog(`msg="adopting socket from systemd" endpoint=http fd=3`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := d.HTTPAddr(); got != web.addr {
		t.Fatalf("http endpoint at %s, want systemd's socket %s", got, web.addr)
	}
	if code, body := echotest.HTTPGet(t, "http://"+web.addr+"/healthz/diag"); code != 200 {
		t.Fatalf("/healthz/diag on the activated socket: %d %q", code, body)
	}
}
