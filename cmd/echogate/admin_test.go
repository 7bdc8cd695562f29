package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// pAskStats sends a /stats command on c and returns the reply line.
func pAskStats(t *testing.T, c net.Conn, r *bufio.Reader, cmd string) string {
	t.Helper()
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		t.Fatal(err)
	}
	return echotest.ReadLine(t, r)
}

// TestStats checks the three /stats numbers as clients come and go, that clients refused by max_conns or by
// the allow list are not counted, and the per-listener counters of /stats json.
func TestStats(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.DaemonTOML(`udp_peer_window = "1h"`)+
		echotest.TCP("capped", "max_conns = 2")+
		echotest.TCP("deny", `allow = ["127.0.0.1/32"]`)+
		echotest.UDP("dgram"))
	capped, deny, dgram := d.Addr("capped"), d.Addr("deny"), d.Addr("dgram")
	c1 := echotest.DialTCP(t, capped)
	r1 := bufio.NewReader(c1)
	stats := func(want string) {
		t.Helper()
		if got := pAskStats(t, c1, r1, "/stats"); got != want {
			t.Fatalf("/stats = %q, want %q", got, want)
		}
	}
	stats("1 1 0\n")
	c2 := echotest.DialTCP(t, capped)
	echotest.RoundTrip(t, c2, "hello\n", "hello\n")
	stats("2 2 0\n")

	if got := echotest.ReadToEOF(t, echotest.DialTCP(t, capped)); got != "server busy\n" {
		t.Fatalf("third client of max_conns 2 got %q, want %q then EOF", got, "server busy\n")
	}
	if got := echotest.ReadToEOF(t, echotest.DialFrom(t, "127.0.0.2", deny)); got != "" {
		t.Fatalf("client outside allow got %q", got)
	}
	stats("2 2 0\n") // neither refused client counts

	u := echotest.ListenUDP(t, "127.0.0.1")
	if got := echotest.AskUDP(t, u, dgram, "ping"); got != "ping" {
		t.Fatalf("udp echo %q", got)
	}
	stats("3 2 1\n")
	echotest.AskUDP(t, u, dgram, "again") // the same peer is not counted twice
	stats("3 2 1\n")

	c2.Close()
	deadline := time.Now().Add(10 * time.Second)
	for got := pAskStats(t, c1, r1, "/stats"); got != "3 1 1\n"; got = pAskStats(t, c1, r1, "/stats") {
		if time.Now().After(deadline) {
			t.Fatalf("after a client left /stats = %q, want %q", got, "3 1 1\n")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// /stats json: one line of JSON with the daemon totals and every listener's counters.
	line := pAskStats(t, c1, r1, "/stats json")
	var snap struct {
		TotalClients uint64                                `json:"total_clients"`
		TCPConnected int                                   `json:"tcp_connected"`
		UDPActive    int                                   `json:"udp_active"`
		Listeners    map[string]map[string]json.RawMessage `json:"listeners"`
	}
	if err := json.Unmarshal([]byte(line), &snap); err != nil {
		t.Fatalf("/stats json %q: %v", line, err)
	}
	if snap.TotalClients != 3 || snap.TCPConnected != 1 || snap.UDPActive != 1 {
		t.Errorf("/stats json totals = %d %d %d, want 3 1 1", snap.TotalClients, snap.TCPConnected, snap.UDPActive)
	}
	keys := []string{"accepted", "refused_busy", "refused_cidr", "lines", "bytes_in", "bytes_out", "overflows",
		"idle_closed", "rate_limited", "udp_dropped", "reloads_ok", "reloads_failed"}
	for _, name := range []string{"capped", "deny", "dgram"} {
		ls, ok := snap.Listeners[name]
		if !ok {
			t.Errorf("/stats json has no listener %q: %s", name, line)
			continue
		}
		for _, k := range keys {
			if _, ok := ls[k]; !ok {
				t.Errorf("/stats json listener %q has no key %q", name, k)
			}
		}
	}
	// "ping" and "again" went to dgram and came back.
	for _, tc := range []struct {
		listener, key string
		want          uint64
	}{
		{"capped", "accepted", 2},
		{"capped", "refused_busy", 1},
		{"capped", "refused_cidr", 0},
		{"deny", "refused_cidr", 1},
		{"deny", "accepted", 0},
		{"dgram", "refused_cidr", 0},
		{"dgram", "bytes_in", 9},
		{"dgram", "bytes_out", 9},
		{"dgram", "udp_dropped", 0},
		{"capped", "overflows", 0},
		{"capped", "reloads_ok", 0},
	} {
		var got uint64
		if err := json.Unmarshal(snap.Listeners[tc.listener][tc.key], &got); err != nil || got != tc.want {
			t.Errorf("/stats json %s.%s = %s, want %d", tc.listener, tc.key, snap.Listeners[tc.listener][tc.key], tc.want)
		}
	}
}

// pWriteToken writes a token file with the given mode in dir and returns its path.
func pWriteToken(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask does not apply to chmod
		t.Fatal(err)
	}
	return p
}

const (
	pToken      = "s3cret-Token_0123"
	pWrongToken = "wr0ng-guess-77"
)

// TestShutdownRefused checks every way /shutdown is refused; the daemon keeps running.
func TestShutdownRefused(t *testing.T) {
	t.Parallel()
	tok := pWriteToken(t, t.TempDir(), "shutdown.token", pToken+"\n", 0o600)
	d := echotest.Start(t, `
[[listener]]
name = "tok"
protocol = "tcp"
address = "127.0.0.1:0"
token_file = "`+tok+`"

[[listener]]
name = "notok"
protocol = "tcp"
address = "127.0.0.1:0"

[[listener]]
name = "adm"
protocol = "tcp"
address = "127.0.0.1:0"
admin_allow = ["127.0.0.2/32"]
token_file = "`+tok+`"
`)
	addrs := map[string]string{"tok": d.Addr("tok"), "notok": d.Addr("notok"), "adm": d.Addr("adm")}
	for _, tc := range []struct{ name, listener, send, want string }{
		{"no argument", "tok", "/shutdown\n", "ERR shutdown-token-required\n"},
		{"blank argument", "tok", "/shutdown  \t \r\n", "ERR shutdown-token-required\n"},
		{"wrong token", "tok", "/shutdown " + pWrongToken + "\n", "ERR shutdown-token-invalid\n"},
		{"token prefix", "tok", "/shutdown " + pToken[:5] + "\n", "ERR shutdown-token-invalid\n"},
		{"case-sensitive name", "tok", "/SHUTDOWN " + pToken + "\n", "ERR unknown-command\n"},
		{"no token configured", "notok", "/shutdown anything\n", "ERR shutdown-token-missing\n"},
		{"no token configured, no argument", "notok", "/shutdown\n", "ERR shutdown-token-required\n"},
		{"outside admin_allow, right token", "adm", "/shutdown " + pToken + "\n", "ERR shutdown-loopback-required\n"},
		{"outside admin_allow, no argument", "adm", "/shutdown\n", "ERR shutdown-loopback-required\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := echotest.DialTCP(t, addrs[tc.listener])
			echotest.RoundTrip(t, c, tc.send, tc.want)
			echotest.RoundTrip(t, c, "still open\n", "still open\n")
		})
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("the daemon did not survive the refused /shutdowns: %v", err)
	}
	d.ExpectNotLogged(t, pToken, pWrongToken)
}

// TestShutdownAccepted checks that the right token stops the daemon with exit status 0, from a token file, from
// a systemd credential, and from an address admin_allow lets in.
func TestShutdownAccepted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		keys    func(dir string) string // the listener's token keys, given a private directory
		env     func(dir string) []string
		from    string
		command string
	}{
		{
			name: "token file",
			keys: func(dir string) string {
				return `token_file = "` + pWriteToken(t, dir, "tok", "  "+pToken+"\n", 0o600) + `"`
			},
			from: "127.0.0.1", command: "/shutdown " + pToken + "\n",
		},
		{
			name: "token file, crlf and spaces",
			keys: func(dir string) string {
				return `token_file = "` + pWriteToken(t, dir, "tok", pToken, 0o400) + `"`
			},
			from: "127.0.0.1", command: "/shutdown   " + pToken + "  \r\n",
		},
		{
			name: "credentials directory",
			keys: func(dir string) string {
				pWriteToken(t, dir, "shutdown.token", pToken+"\n", 0o400)
				return `token_credential = "shutdown.token"`
			},
			env:  func(dir string) []string { return []string{"CREDENTIALS_DIRECTORY=" + dir} },
			from: "127.0.0.1", command: "/shutdown " + pToken + "\n",
		},
		{
			name: "inside a non-default admin_allow",
			keys: func(dir string) string {
				return `admin_allow = ["127.0.0.2/32"]` + "\n" +
					`token_file = "` + pWriteToken(t, dir, "tok", pToken, 0o600) + `"`
			},
			from: "127.0.0.2", command: "/shutdown " + pToken + "\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			var opts echotest.Options
			if tc.env != nil {
				opts.Env = tc.env(dir)
			}
			d := echotest.Start(t, echotest.DaemonTOML(`shutdown_grace = "2s"`)+
				echotest.TCP("admin")+tc.keys(dir)+"\n", opts)
			bystander := echotest.DialTCP(t, d.Addr("admin"))
			echotest.RoundTrip(t, bystander, "x\n", "x\n")
			c := echotest.DialFrom(t, tc.from, d.Addr("admin"))
			echotest.RoundTrip(t, c, tc.command, "OK, shutting down\n")
			if rest := echotest.ReadToEOF(t, c); rest != "" {
				t.Errorf("after the OK got %q, want EOF", rest)
			}
			if rest := echotest.ReadToEOF(t, bystander); rest != "" {
				t.Errorf("another client got %q, want EOF", rest)
			}
			if err := d.Wait(15 * time.Second); err != nil {
				t.Fatalf("exit after /shutdown: %v, want status 0", err)
			}
			d.ExpectNotLogged(t, pToken)
		})
	}
}

// TestStopSignals checks that SIGINT and SIGTERM stop the daemon with exit status 0, closing open connections.
func TestStopSignals(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			d := echotest.Start(t, echotest.DaemonTOML(`shutdown_grace = "2s"`)+
				echotest.TCP("a")+
				echotest.UDP("u"))
			c := echotest.DialTCP(t, d.Addr("a"))
			echotest.RoundTrip(t, c, "before\n", "before\n")
			d.Signal(sig)
			if rest := echotest.ReadToEOF(t, c); rest != "" {
				t.Errorf("open connection got %q, want EOF", rest)
			}
			if err := d.Wait(15 * time.Second); err != nil {
				t.Fatalf("exit after %v: %v, want status 0", sig, err)
			}
		})
	}
}

func TestCIDRDenialTCP(t *testing.T) {
	t.Parallel()
	_, addrs := startProto(t)
	denied := echotest.DialFrom(t, "127.0.0.2", addrs["deny"])
	if got := echotest.ReadToEOF(t, denied); got != "" {
		t.Fatalf("client outside allow got %q, want nothing", got)
	}
	echotest.RoundTrip(t, echotest.DialFrom(t, "127.0.0.1", addrs["deny"]), "in\n", "in\n")
}

func TestCIDRDenialIPv6(t *testing.T) {
	t.Parallel()
	probe, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	probe.Close()
	d := echotest.Start(t, echotest.Listener("v6", "tcp", "[::1]:0", `allow = ["::1/128"]`)+
		echotest.Listener("v6only4", "tcp", "[::1]:0", `allow = ["127.0.0.1/32"]`))
	echotest.RoundTrip(t, echotest.DialTCP(t, d.Addr("v6")), "six\n", "six\n")
	if got := echotest.ReadToEOF(t, echotest.DialTCP(t, d.Addr("v6only4"))); got != "" {
		t.Fatalf("::1 against allow 127.0.0.1/32 got %q, want nothing", got)
	}
}
