package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// controlTOML is a [daemon] table with control_socket = sock, and the given extra keys.
func controlTOML(sock string, extra ...string) string {
	return fmt.Sprintf("[daemon]\ncontrol_socket = %q\n", sock) + strings.Join(extra, "\n") + "\n"
}

// askStatus runs `echogate status -json -control sock` and decodes the answer; raw is the JSON as printed.
func askStatus(t *testing.T, sock string) (rep statusReport, raw string) {
	t.Helper()
	out, errOut, code := echotest.RunCLIWith(t, nil, nil, "status", "-json", "-control", sock)
	if code != 0 {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status -json: %v in %q", err, out)
	}
	return rep, out
}

var positionedMaxLine = regexp.MustCompile(`echogate\.toml:\d+:\d+: listener "x": max_line`)

// `echogate reload` waits for the daemon's own reload and reports it: exit 0 with the new generation, exit 1
// with the positioned error while the old config keeps serving, exit 2 when there is no daemon to ask.
func TestReloadCommandReportsOutcome(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "control.sock")
	head := controlTOML(sock)
	d := echotest.Start(t, head+echotest.TCPListener("x", "127.0.0.1:0"))
	if _, err := d.WaitLog("msg=\"control socket\" event=listening path="+sock, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := echotest.RunCLIWith(t, nil, nil, "reload", "-config", d.Config)
	if code != 0 || out != "ok generation=2 added=0 removed=0 changed=0 kept=1\n" {
		t.Fatalf("good reload: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	for _, broken := range []string{"max_line = 0", "max_line = = 3"} { // a bad value; a syntax error after [daemon]
		mark := d.LogLines()
		echotest.SaveAtomic(t, d.Config, head+echotest.TCPListener("x", "127.0.0.1:0", broken))
		d.AwaitReloadFailed(t, mark) // the watcher saw it first
		out, errOut, code = echotest.RunCLIWith(t, nil, nil, "reload", "-config", d.Config)
		if code != 1 || !strings.HasPrefix(errOut, "error ") || !regexp.MustCompile(`echogate\.toml:\d+:\d+: `).MatchString(errOut) {
			t.Fatalf("rejected reload (%s): exit %d, stdout %q, stderr %q; want exit 1 and the positioned error",
				broken, code, out, errOut)
		}
	}
	echotest.SaveAtomic(t, d.Config, head+echotest.TCPListener("x", "127.0.0.1:0", "max_line = 0"))
	out, errOut, code = echotest.RunCLIWith(t, nil, nil, "reload", "-config", d.Config)
	if code != 1 || !positionedMaxLine.MatchString(errOut) {
		t.Fatalf("rejected reload: exit %d, stdout %q, stderr %q; want exit 1 and the positioned error", code, out, errOut)
	}
	echotest.TCPEcho(t, d.Addr("x"), "old config serves\n")
	if rep, _ := askStatus(t, sock); rep.Generation != 2 || rep.LastReload == nil ||
		rep.LastReload.Result != "error" || !positionedMaxLine.MatchString(rep.LastReload.Error) {
		t.Fatalf("status after the rejected reload: generation %d, last reload %+v", rep.Generation, rep.LastReload)
	}

	_, errOut, code = echotest.RunCLIWith(t, nil, nil, "reload", "-control", filepath.Join(t.TempDir(), "none.sock"))
	if code != 2 || !strings.Contains(errOut, "cannot reach the daemon") {
		t.Fatalf("no socket: exit %d, stderr %q; want exit 2", code, errOut)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left behind at exit: %v", err)
	}
	if _, errOut, code = echotest.RunCLIWith(t, nil, nil, "reload", "-config", d.Config); code != 2 {
		t.Fatalf("stopped daemon: exit %d, stderr %q; want exit 2", code, errOut)
	}
}

// Without a control socket, `echogate reload` sends SIGHUP to the daemon of pid_file after checking the file
// that daemon serves (read from /proc/PID/cmdline), not the file given with -config, and says that it cannot
// confirm the outcome.
func TestReloadCommandFallsBackToSIGHUP(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "echogate.pid")
	head := fmt.Sprintf("[daemon]\npid_file = %q\n", pidFile)
	d := echotest.Start(t, head+echotest.TCPListener("x", "127.0.0.1:0"))
	other := filepath.Join(t.TempDir(), "other.toml") // finds the daemon; invalid, but not what the daemon serves
	echotest.SaveInPlace(t, other, head+echotest.TCPListener("x", "127.0.0.1:0", "max_line = 0"))

	mark := d.LogLines()
	out, errOut, code := echotest.RunCLIWith(t, nil, nil, "reload", "-config", other)
	want := fmt.Sprintf("sent SIGHUP to echogate pid %d to reload %s;", d.Pid(), d.Config)
	if code != 0 || !strings.HasPrefix(out, want) || !strings.Contains(out, "cannot be confirmed") {
		t.Fatalf("reload: exit %d, stdout %q, stderr %q; want exit 0 and %q", code, out, errOut, want)
	}
	d.AwaitReload(t, mark)

	mark = d.LogLines()
	echotest.SaveAtomic(t, d.Config, head+echotest.TCPListener("x", "127.0.0.1:0", "max_line = 0"))
	d.AwaitReloadFailed(t, mark)
	mark = d.LogLines()
	_, errOut, code = echotest.RunCLIWith(t, nil, nil, "reload", "-config", other)
	if code != 1 || !strings.Contains(errOut, d.Config+":") || !strings.Contains(errOut, "not signalling") {
		t.Fatalf("reload of a daemon whose file is invalid: exit %d, stderr %q", code, errOut)
	}
	time.Sleep(300 * time.Millisecond)
	if n := d.CountLogAfter(mark, "signal=SIGHUP"); n != 0 {
		t.Errorf("%d SIGHUPs logged for an invalid file, want 0", n)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid_file left behind: %v", err)
	}
}

// Under systemd's RuntimeDirectory= (several paths: the first is used) the control socket is there by
// default, and a client that has the same environment finds it through -config or with no flag at all.
func TestControlSocketRuntimeDirectory(t *testing.T) {
	t.Parallel()
	first, second := t.TempDir(), t.TempDir()
	env := []string{"RUNTIME_DIRECTORY=" + first + ":" + second}
	d := echotest.Start(t, echotest.TCPListener("x", "127.0.0.1:0"), echotest.Options{Env: env})
	sock := filepath.Join(first, "control.sock")
	if fi, err := os.Lstat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket at %s: %v %v; want a socket with mode 0600", sock, fi, err)
	}
	out, errOut, code := echotest.RunCLIWith(t, env, nil, "reload", "-config", d.Config)
	if code != 0 || !strings.HasPrefix(out, "ok generation=2 ") {
		t.Fatalf("reload: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = echotest.RunCLIWith(t, env, nil, "status")
	if code != 0 || !strings.Contains(out, "control socket  "+sock) {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
}

// A socket file left by a crash is replaced, but a file that is not a socket, or a socket someone answers
// on, stops the start; a reload that changes control_socket moves the socket, and exit removes it.
func TestControlSocketStaleAndMove(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // the file stays, and nobody answers: what a crash leaves
	d := echotest.Start(t, controlTOML(stale)+echotest.TCPListener("x", "127.0.0.1:0"))
	if _, err := d.WaitLog("removed a stale control socket", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if rep, _ := askStatus(t, stale); rep.Generation != 1 || rep.ControlSocket != stale {
		t.Fatalf("status on the replaced socket: %+v", rep)
	}

	moved := filepath.Join(dir, "moved.sock")
	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, controlTOML(moved)+echotest.TCPListener("x", "127.0.0.1:0"))
	d.AwaitReload(t, mark)
	if _, err := d.WaitLogAfter(mark, `msg="control socket" event=moved`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if rep, _ := askStatus(t, moved); rep.Generation != 2 || rep.ControlSocket != moved {
		t.Fatalf("status on the moved socket: %+v", rep)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old control socket still there after the move: %v", err)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if _, err := os.Lstat(moved); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left behind at exit: %v", err)
	}

	t.Run("not a socket", func(t *testing.T) {
		file := filepath.Join(dir, "file.sock")
		echotest.SaveInPlace(t, file, "precious\n")
		d := echotest.Start(t, controlTOML(file)+echotest.TCPListener("x", "127.0.0.1:0"), echotest.Options{NoReady: true})
		d.ExpectExit(t, 1)
		if _, err := d.WaitLog("is not a socket", 0); err != nil {
			t.Error(err)
		}
		if b, err := os.ReadFile(file); err != nil || string(b) != "precious\n" {
			t.Errorf("the file was touched: %q %v", b, err)
		}
	})
	t.Run("answered", func(t *testing.T) {
		live := filepath.Join(dir, "live.sock")
		ln, err := net.Listen("unix", live)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		d := echotest.Start(t, controlTOML(live)+echotest.TCPListener("x", "127.0.0.1:0"), echotest.Options{NoReady: true})
		d.ExpectExit(t, 1)
		if _, err := d.WaitLog("another process answers on it", 0); err != nil {
			t.Error(err)
		}
	})
}

// The control socket serves a few clients at once and tells the next one it is busy; a client that sends
// nothing is answered and closed after the read timeout; a long line or an unknown command is an error.
func TestControlSocketBounds(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "control.sock")
	echotest.Start(t, controlTOML(sock)+echotest.TCPListener("x", "127.0.0.1:0"))
	var silent []net.Conn
	for i := 0; i < controlMaxClients; i++ {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	if got := echotest.ControlLine(t, sock, "status\n"); !strings.HasPrefix(got, "busy ") {
		t.Fatalf("client %d: %q, want busy", controlMaxClients+1, got)
	}
	for i, c := range silent {
		c.SetDeadline(time.Now().Add(controlReadTimeout + 10*time.Second))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "error no command within 5s\n" {
			t.Fatalf("silent client %d: %q %v", i, got, err)
		}
	}
	if got := echotest.ControlLine(t, sock, strings.Repeat("a", controlMaxLine+1)); got != "error command line longer than 256 bytes" {
		t.Errorf("long line: %q", got)
	}
	if got := echotest.ControlLine(t, sock, "frobnicate\n"); got != `error unknown command "frobnicate"; commands: reload, status, state [ready|drain|maint]` {
		t.Errorf("unknown command: %q", got)
	}
	if got := echotest.ControlLine(t, sock, "status\n"); !strings.HasPrefix(got, `{"version":`) {
		t.Errorf("status after the limits: %q", got)
	}
}

// Only root and the daemon's own user may use the control socket: its mode (0600) keeps others from
// connecting, and SO_PEERCRED refuses them even when the mode would let them in.
func TestControlSocketPeerCredentials(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the client as another user")
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	if _, _, code := echotest.RunCLIWith(t, nil, nobody, "version"); code != 0 {
		t.Skipf("uid 65534 cannot run %s", echotest.Bin())
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil { // let uid 65534 reach the socket
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "control.sock")
	d := echotest.Start(t, controlTOML(sock)+echotest.TCPListener("x", "127.0.0.1:0"))
	_, errOut, code := echotest.RunCLIWith(t, nil, nobody, "status", "-control", sock)
	if code != 2 || !strings.Contains(errOut, "permission denied") {
		t.Fatalf("uid 65534 on the 0600 socket: exit %d, stderr %q; want exit 2, permission denied", code, errOut)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	mark := d.LogLines()
	_, errOut, code = echotest.RunCLIWith(t, nil, nobody, "reload", "-control", sock)
	if code != 2 || !strings.HasPrefix(errOut, "denied uid 65534 ") {
		t.Fatalf("uid 65534 past the mode: exit %d, stderr %q; want exit 2 and the daemon's refusal", code, errOut)
	}
	if _, err := d.WaitLogAfter(mark, `client refused" uid=65534`, 5*time.Second); err != nil {
		t.Error(err)
	}
	if n := d.CountLogAfter(mark, "reload requested"); n != 0 {
		t.Errorf("a refused client's reload was started (%d times)", n)
	}
	if out, errOut, code := echotest.RunCLIWith(t, nil, nil, "reload", "-control", sock); code != 0 {
		t.Fatalf("root: exit %d\n%s%s", code, out, errOut)
	}
}
