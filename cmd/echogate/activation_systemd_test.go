package main

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"

	"golang.org/x/sys/unix"
)

// A socket that does not fit is refused: the daemon exits 1 with an error that names the listener or fd.
func TestActivationRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		socks func(t *testing.T) []passedSocket
		toml  string
		want  []string
	}{
		{"datagram for a tcp listener", func(t *testing.T) []passedSocket { return []passedSocket{passUDP(t, "web")} },
			echotest.UnboundListener("web", "tcp"), []string{`listener \"web\" is tcp but systemd passed a datagram socket named \"web\"`}},
		{"stream for a udp listener", func(t *testing.T) []passedSocket { return []passedSocket{passTCP(t, "dns")} },
			echotest.UnboundListener("dns", "udp"), []string{`listener \"dns\" is udp but systemd passed a stream socket named \"dns\"`}},
		{"connection socket (Accept=yes)", func(t *testing.T) []passedSocket { return []passedSocket{acceptedConn(t, "web")} },
			echotest.UnboundListener("web", "tcp"), []string{`fd 3 named \"web\"`, "Accept=yes is not supported"}},
		{"unix socket", func(t *testing.T) []passedSocket { return []passedSocket{unixSocket(t, "web")} },
			echotest.UnboundListener("web", "tcp"), []string{`fd 3 named \"web\"`, "not an AF_INET or AF_INET6 socket"}},
		{"two unnamed sockets for one listener", func(t *testing.T) []passedSocket {
			return []passedSocket{passTCP(t, "unknown"), passTCP(t, "unknown")}
		}, echotest.UnboundListener("web", "tcp"), []string{`listener \"web\": systemd passed 2 unnamed stream sockets`}},
		{"unnamed socket, two tcp listeners", func(t *testing.T) []passedSocket { return []passedSocket{passTCP(t, "")} },
			echotest.UnboundListener("t1", "tcp") + echotest.UnboundListener("t2", "tcp"),
			[]string{`listener \"t1\": no address, and systemd passed no socket named \"t1\"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			socks := tc.socks(t)
			o := activated(socks, socks[0].name != "")
			o.NoReady = true
			d := echotest.Start(t, tc.toml, o)
			d.ExpectExit(t, 1)
			if line, err := d.WaitLog("echogate ready", 0); err == nil {
				t.Errorf("daemon became ready: %s", line)
			}
			for _, w := range tc.want {
				if _, err := d.WaitLog(w, 0); err != nil {
					t.Errorf("%v\n%s", err, strings.Join(d.Lines(), "\n"))
				}
			}
		})
	}
}

// acceptedConn is a connected TCP socket, what a socket unit with Accept=yes passes.
func acceptedConn(t *testing.T, name string) passedSocket {
	t.Helper()
	s := passTCP(t, name)
	c := echotest.DialTCP(t, s.addr)
	conn, err := s.ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); c.Close() })
	f, err := conn.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return passedSocket{name: name, addr: s.addr, file: f}
}

// unixSocket is one end of an AF_UNIX socket pair.
func unixSocket(t *testing.T, name string) passedSocket {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), name), os.NewFile(uintptr(fds[1]), name+"-peer")
	t.Cleanup(func() { a.Close(); b.Close() })
	return passedSocket{name: name, file: a}
}

// systemd-socket-activate (from the systemd package) binds the socket, waits for the first client and then
// execs echogate with it, exactly as PID 1 does for a .socket unit: the first client is served by the
// activated daemon.
func TestSystemdSocketActivate(t *testing.T) {
	t.Parallel()
	tool, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate is not installed (it comes with the Debian package systemd)")
	}
	help, _ := exec.Command(tool, "--help").CombinedOutput()
	for _, tc := range []struct{ name, proto, flag string }{
		{"echo-tcp", "tcp", ""},
		{"echo-udp", "udp", "--datagram"},
	} {
		t.Run(tc.proto, func(t *testing.T) {
			t.Parallel()
			if tc.flag != "" && !strings.Contains(string(help), tc.flag) {
				t.Skipf("this systemd-socket-activate has no %s option", tc.flag)
			}
			d, addr := socketActivate(t, tool, tc.name, tc.proto, tc.flag)
			if tc.proto == "tcp" {
				c := echotest.DialTCP(t, addr) // this connection starts echogate
				echotest.RoundTrip(t, c, "first client\n", "first client\n")
			} else if got := echotest.UDPExchange(t, addr, "first datagram"); got != "first datagram" {
				t.Fatalf("udp: got %q", got)
			}
			if _, err := d.WaitLog("echogate ready", 15*time.Second); err != nil {
				t.Fatal(err)
			}
			if _, err := d.WaitLog("adopting socket from systemd", 0); err != nil {
				t.Fatal(err)
			}
			expectAdopted(t, d, tc.name, 3, passedSocket{addr: addr})
			if err := d.Stop(); err != nil {
				t.Fatalf("exit: %v", err)
			}
		})
	}
}

// socketActivate runs `systemd-socket-activate -l 127.0.0.1:PORT --fdname=NAME echogate run ...` on a port
// that was free a moment ago (another one if it was taken meanwhile) and waits until the tool listens.
func socketActivate(t *testing.T, tool, name, proto, flag string) (*echotest.Daemon, string) {
	t.Helper()
	toml := echotest.UnboundListener(name, proto)
	for try := 0; ; try++ {
		addr := echotest.FreeAddr(t, proto)
		wrap := []string{tool, "-l", addr, "--fdname=" + name}
		if flag != "" {
			wrap = append(wrap, flag)
		}
		d := echotest.Start(t, toml, echotest.Options{Wrap: wrap, NoReady: true})
		_, err := d.WaitLog("Listening on "+addr, 15*time.Second)
		if err == nil {
			return d, addr
		}
		if _, errInUse := d.WaitLog("in use", 0); errInUse != nil || try == 4 {
			t.Fatalf("systemd-socket-activate: %v\n%s", err, strings.Join(d.Lines(), "\n"))
		}
	}
}

// A passed socket echogate cannot serve (here a unix socket) is only an error when a listener claims it: left
// unclaimed, it is logged and the daemon serves the rest.
func TestActivationUnservableUnclaimedSocket(t *testing.T) {
	t.Parallel()
	web := passTCP(t, "web")
	socks := []passedSocket{web, unixSocket(t, "metrics")}
	d := echotest.Start(t, echotest.UnboundListener("web", "tcp"), activated(socks, true))
	if _, err := d.WaitLog("cannot serve and no listener claims", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	echotest.RoundTrip(t, echotest.DialTCP(t, web.addr), "still serving\n", "still serving\n")
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}
