package systemd

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// passed is one socket the test hands to the child, with what ListenFDs should report.
type passed struct {
	file  *os.File
	proto string
	addr  netip.AddrPort
}

// passTCP, passUDP and passUnix open a socket to hand to the child process.
func passTCP(t *testing.T) passed {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return passed{fileOf(t, ln.(*net.TCPListener)), "tcp", ln.Addr().(*net.TCPAddr).AddrPort()}
}

func passUDP(t *testing.T) passed {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return passed{fileOf(t, pc.(*net.UDPConn)), "udp", pc.LocalAddr().(*net.UDPAddr).AddrPort()}
}

func passUnix(t *testing.T) passed {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return passed{file: fileOf(t, ln.(*net.UnixListener))}
}

// runActivated starts the test binary the way systemd starts a socket-activated service: the files
// as fds 3.., LISTEN_FDS and LISTEN_FDNAMES in the environment, and LISTEN_PID set by a shell that then
// execs the binary, so it equals the child's pid. pid overrides LISTEN_PID when not empty.
func runActivated(t *testing.T, files []*os.File, names *string, pid string) helperReport {
	t.Helper()
	script := `LISTEN_PID=$$ exec "$0"`
	if pid != "" {
		script = `LISTEN_PID=` + pid + ` exec "$0"`
	}
	cmd := exec.Command("sh", "-c", script, os.Args[0])
	cmd.ExtraFiles = files
	// GORACE: without it a race-enabled child sleeps a second at exit.
	cmd.Env = append(os.Environ(), helperEnv+"=listenfds", "GORACE=atexit_sleep_ms=0",
		"LISTEN_FDS="+strconv.Itoa(len(files)))
	if names != nil {
		cmd.Env = append(cmd.Env, "LISTEN_FDNAMES="+*names)
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.WaitDelay = 5 * time.Second
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child did not finish")
	}
	var r helperReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("child output %q: %v", out.String(), err)
	}
	return r
}

func strp(s string) *string { return &s }

func TestListenFDs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		open      []func(*testing.T) passed
		names     *string
		pid       string
		wantNames []string
		wantErr   []string // substrings of the error; nil = success
	}{
		{name: "named tcp and udp", open: []func(*testing.T) passed{passTCP, passUDP},
			names: strp("echo-tcp:echo-udp"), wantNames: []string{"echo-tcp", "echo-udp"}},
		{name: "no names", open: []func(*testing.T) passed{passUDP, passTCP},
			wantNames: []string{"unknown", "unknown"}},
		{name: "zero fds", names: strp("")},
		{name: "other pid", open: []func(*testing.T) passed{passTCP}, names: strp("echo-tcp"), pid: "1"},
		{name: "unix socket refused", open: []func(*testing.T) passed{passTCP, passUnix},
			names: strp("echo-tcp:ctl"), wantErr: []string{`fd 4 named "ctl"`, "AF_UNIX"}},
		{name: "names do not fit", open: []func(*testing.T) passed{passTCP, passUDP},
			names: strp("echo-tcp"), wantErr: []string{"LISTEN_FDNAMES", "1 names", "LISTEN_FDS=2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ps []passed
			var files []*os.File
			for _, open := range tc.open {
				p := open(t)
				ps, files = append(ps, p), append(files, p.file)
			}
			r := runActivated(t, files, tc.names, tc.pid)
			if len(r.Env) > 0 {
				t.Errorf("still set after ListenFDs: %v", r.Env)
			}
			if tc.wantErr != nil {
				for _, w := range tc.wantErr {
					if !strings.Contains(r.Err, w) {
						t.Errorf("error %q does not contain %q", r.Err, w)
					}
				}
				return
			}
			if r.Err != "" {
				t.Fatal(r.Err)
			}
			if len(r.Sockets) != len(tc.wantNames) {
				t.Fatalf("got %d sockets %+v; want %d", len(r.Sockets), r.Sockets, len(tc.wantNames))
			}
			for i, s := range r.Sockets {
				want := Socket{FD: 3 + i, Name: tc.wantNames[i], Protocol: ps[i].proto, Addr: ps[i].addr,
					Listening: ps[i].proto == "tcp"}
				if s != want {
					t.Errorf("socket %d = %+v; want %+v", i, s, want)
				}
				if !r.CloExec[i] || !r.NonBlock[i] {
					t.Errorf("fd %d: close-on-exec %v, non-blocking %v; want both", s.FD, r.CloExec[i], r.NonBlock[i])
				}
			}
		})
	}
}
