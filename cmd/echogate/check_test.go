package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// msgNoListeners is config's message for a file without a [[listener]].
const msgNoListeners = "no [[listener]] table: a config must declare at least one listener"

// checkFails runs check with args on path, expects exit 1 and returns stderr's lines.
func checkFails(t *testing.T, path string, args ...string) []string {
	t.Helper()
	stdout, stderr, code := echotest.RunCLI(t, append([]string{"check", "-config", path}, args...)...)
	if code != 1 {
		t.Fatalf("check %v: exit %d, want 1\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
	}
	return strings.Split(strings.TrimRight(stderr, "\n"), "\n")
}

// matchLines checks that lines are exactly the positioned errors in want ({line, pattern}), in order.
func matchLines(t *testing.T, path string, lines []string, want [][2]string) {
	t.Helper()
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if re := pPositioned(path, w[0], w[1]); !re.MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s", i+1, lines[i], re)
		}
	}
}

// TestCheckEveryError plants three errors in three places: check reports all of them, in file order.
func TestCheckEveryError(t *testing.T) {
	t.Parallel()
	path := echotest.WriteConfig(t, `[daemon]
log_level = "verbose"

[[listener]]
name = "a"
protocol = "tcp"
address = "127.0.0.1:0"
max_line = 0

[[listener]]
name = "b"
protocol = "udp"
address = "127.0.0.1:0"
idle_timeout = "5m"
`)
	matchLines(t, path, checkFails(t, path), [][2]string{
		{"2", `unknown log level "verbose"`},
		{"8", `listener "a": max_line must be between 1 and 1048576`},
		{"14", `listener "b": idle_timeout applies only to tcp listeners`},
	})
}

// TestCheckMappedOverlaps checks the overlaps that only show once IPv4-mapped addresses are read as the IPv4
// address they are bound as: check refuses them, where run would fail with EADDRINUSE.
func TestCheckMappedOverlaps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, proto, first, second, msg string }{
		{"mapped loopback", "tcp", "127.0.0.1", "[::ffff:127.0.0.1]", `address \[::ffff:127.0.0.1\]:\d+ overlaps listener "first" \(tcp 127.0.0.1:\d+\)`},
		{"mapped wildcard", "udp", "127.0.0.1", "[::ffff:0.0.0.0]", `address \[::ffff:0.0.0.0\]:\d+ overlaps listener "first" \(udp 127.0.0.1:\d+\)`},
		{"dual-stack", "tcp", "[::1]", "[::]", `address \[::\]:\d+ overlaps listener "first" \(tcp \[::1\]:\d+\)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := echotest.FreeTCPPort(t)
			path := echotest.WriteConfig(t, fmt.Sprintf("[[listener]]\nname = \"first\"\nprotocol = %q\naddress = \"%s:%d\"\n\n"+
				"[[listener]]\nname = \"second\"\nprotocol = %q\naddress = \"%s:%d\"\n", tc.proto, tc.first, port, tc.proto, tc.second, port))
			matchLines(t, path, checkFails(t, path), [][2]string{{"9", `listener "second": ` + tc.msg}})
		})
	}
}

// TestNoListenersRefused checks that a file with no [[listener]] (empty, as a truncating writer leaves it,
// or only [daemon]) is an error for check and for run, with the same message.
func TestNoListenersRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body string }{
		{"empty", ""},
		{"only daemon", "[daemon]\nlog_level = \"info\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := echotest.WriteConfig(t, tc.body)
			want := regexp.MustCompile(`(?m)^(echogate: )?` + regexp.QuoteMeta(path+": "+msgNoListeners) + `$`)
			if lines := checkFails(t, path); len(lines) != 1 || !want.MatchString(lines[0]) {
				t.Errorf("check printed %q, want one line matching %s", lines, want)
			}
			_, stderr, code := echotest.RunCLI(t, "run", "-log-format", "text", "-config", path)
			if code != 1 || !want.MatchString(stderr) {
				t.Errorf("run: exit %d, want 1 with the same message\n%s", code, stderr)
			}
		})
	}
}

// TestReloadToNoListenersRejected replaces the running file by one with no listener: the reload is refused,
// counted, and the listener keeps serving its open and its new connections.
func TestReloadToNoListenersRejected(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCP("diag"))
	addr := d.Addr("diag")
	c := echotest.DialTCP(t, addr)
	echotest.RoundTrip(t, c, "before\n", "before\n")
	for i, body := range []string{"", "[daemon]\nlog_level = \"info\"\n"} {
		mark := d.LogLines()
		echotest.SaveAtomic(t, d.Config, body)
		if line := d.AwaitReloadFailed(t, mark); !strings.Contains(line, msgNoListeners) {
			t.Fatalf("reload failed, but not for the missing listener: %s", line)
		}
		echotest.RoundTrip(t, c, "still here\n", "still here\n")
		echotest.RoundTrip(t, echotest.DialTCP(t, addr), "new\n", "new\n")
		if s := echotest.StatsOn(t, c); s.ReloadsFailed != uint64(i+1) || s.ReloadsOK != 0 {
			t.Fatalf("after %d rejected file(s): reloads_failed=%d reloads_ok=%d", i+1, s.ReloadsFailed, s.ReloadsOK)
		}
	}
}

// TestCheckBindPortInUse holds a TCP and a UDP port: check passes (it binds nothing) and check -bind fails,
// naming the place of each listener that cannot bind.
func TestCheckBindPortInUse(t *testing.T) {
	t.Parallel()
	port := netip.MustParseAddrPort(echotest.HoldTCP(t, "127.0.0.1:0")).Port()
	busyUDP, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Skipf("UDP port %d is taken too: %v", port, err)
	}
	defer busyUDP.Close()
	busy := fmt.Sprintf("127.0.0.1:%d", port)
	path := echotest.WriteConfig(t, echotest.TCP("free")+echotest.TCPListener("busy", busy)+
		echotest.Listener("busy-udp", "udp", busy))
	if _, stderr, code := echotest.RunCLI(t, "check", "-config", path); code != 0 {
		t.Fatalf("check without -bind: exit %d, want 0\n%s", code, stderr)
	}
	p := fmt.Sprint(port)
	matchLines(t, path, checkFails(t, path, "-bind"), [][2]string{
		{"10", `listener "busy": bind tcp/127.0.0.1:` + p + `: bind: address already in use`},
		{"15", `listener "busy-udp": bind udp/127.0.0.1:` + p + `: bind: address already in use`},
	})
}

// TestCheckBindReleases checks that check -bind binds what it can, skips a listener whose socket systemd
// passes, and releases every port: the test can listen on it afterwards.
func TestCheckBindReleases(t *testing.T) {
	t.Parallel()
	port := echotest.FreeTCPPort(t)
	fixed := fmt.Sprintf("127.0.0.1:%d", port)
	path := echotest.WriteConfig(t, echotest.TCPListener("fixed", fixed)+echotest.Listener("fixed-udp", "udp", fixed)+
		echotest.UnboundListener("activated", "tcp"))
	stdout, stderr, code := echotest.RunCLI(t, "check", "-bind", "-config", path)
	if code != 0 {
		t.Fatalf("check -bind: exit %d, want 0\n%s", code, stderr)
	}
	if !pPositioned(path, "12", `listener "activated": no address: its socket comes from systemd; not bound`).MatchString(stdout) ||
		!strings.Contains(stdout, "ok, 3 listener(s), 2 bound and released") {
		t.Errorf("check -bind printed:\n%s", stdout)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("port %d is still held after check -bind: %v", port, err)
	}
	ln.Close()
	pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("UDP port %d is still held after check -bind: %v", port, err)
	}
	pc.Close()
}

// TestCheckBindNoIPv6 runs check -bind in a network namespace whose loopback has IPv6 turned off: a [::1]
// listener cannot bind, and the error names its place.
func TestCheckBindNoIPv6(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root for unshare -n")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	path := echotest.WriteConfig(t, "[[listener]]\nname = \"v4\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n\n"+
		"[[listener]]\nname = \"v6\"\nprotocol = \"udp\"\naddress = \"[::1]:7007\"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	script := `ip link set lo up && sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 || exit 99; exec "$0" check -bind -config "$1"`
	cmd := exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", script, echotest.Bin(), path)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("unshare: %v", err)
	}
	switch code := cmd.ProcessState.ExitCode(); {
	case strings.HasPrefix(stderr.String(), "unshare:"):
		t.Skipf("cannot make a network namespace here: %s", stderr.String())
	case code == 99:
		t.Skipf("cannot set up a namespace without IPv6: %s", stderr.String())
	case code != 1:
		t.Fatalf("check -bind without IPv6: exit %d, want 1\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	matchLines(t, path, lines, [][2]string{{"9", `listener "v6": bind udp/\[::1\]:7007: bind: cannot assign requested address`}})
}
