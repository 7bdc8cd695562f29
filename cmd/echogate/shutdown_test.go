package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// A config change that arrives while the daemon is stopping (here: flushing to a client that does not read)
// is not applied: no listener is started during shutdown, and the stop still ends with exit 0.
func TestNoReloadDuringShutdown(t *testing.T) {
	t.Parallel()
	cfg := "[daemon]\nshutdown_grace = \"3s\"\n" + echotest.TCPListener("main", "127.0.0.1:0")
	d := echotest.Start(t, cfg)
	c := echotest.DialTCP(t, d.Addr("main"))
	// Queue far more than the socket buffers hold, without reading: the daemon has output to flush.
	line := strings.Repeat("x", 1000) + "\n"
	go func() {
		for i := 0; i < 8000; i++ {
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	mark := d.LogLines()
	d.Signal(syscall.SIGTERM)
	if _, err := d.WaitLogAfter(mark, "shutting down", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	echotest.SaveAtomic(t, d.Config, cfg+echotest.TCPListener("late", "127.0.0.1:0"))
	if _, err := d.WaitLogAfter(mark, `msg="reload skipped" event=stopping`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(15 * time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	for _, l := range d.Lines()[mark:] {
		if strings.Contains(l, "msg=reload") || strings.Contains(l, "listener=late") {
			t.Errorf("reload applied during shutdown: %s", l)
		}
	}
}

// `echogate reload` refuses to signal a PID that is not echogate: after a crash the pid_file may name an
// unrelated process, which SIGHUP would kill.
func TestReloadCommandRefusesStalePID(t *testing.T) {
	t.Parallel()
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = other.Wait(); close(exited) }() // reaped at once: no zombie that looks alive
	defer func() { _ = other.Process.Kill(); <-exited }()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "echogate.pid")
	if err := os.WriteFile(pidFile, []byte(fmt.Sprintf("%d\n", other.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "echogate.toml")
	echotest.SaveInPlace(t, cfg, fmt.Sprintf("[daemon]\npid_file = %q\n", pidFile)+echotest.TCPListener("main", "127.0.0.1:0"))
	stdout, stderr, code := echotest.RunCLI(t, "reload", "-config", cfg)
	if out := stdout + stderr; code != 2 || !strings.Contains(out, "not echogate") {
		t.Fatalf("reload: exit %d, output %q; want exit 2 (no daemon) refusing the stale PID", code, out)
	}
	select {
	case <-exited:
		t.Fatalf("the unrelated process was signalled: it exited (%v)", waitErr)
	case <-time.After(100 * time.Millisecond):
	}
	// It ends by the SIGKILL sent now, not by a SIGHUP sent before.
	_ = other.Process.Kill()
	<-exited
	var ee *exec.ExitError
	if err := waitErr; !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the unrelated process ended with %v, want killed by SIGKILL", err)
	}
}

// The connection closed by a second overlong line ends with a clean EOF after both error replies, even while
// the client is still sending: echogate shuts its write side and drains instead of resetting.
func TestOverflowCloseIsClean(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCPListener("small", "127.0.0.1:0", "max_line = 8"))
	c := echotest.DialTCP(t, d.Addr("small"))
	// One write: the daemon reads the two overlong lines together with input it will never read.
	go io.WriteString(c, strings.Repeat("a", 20)+"\n"+strings.Repeat("b", 20)+"\n"+strings.Repeat("z", 512<<10))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read %q, then %v; want a clean EOF", got, err)
	}
	if string(got) != "ERR too-long-line\nERR too-long-line\n" {
		t.Fatalf("got %q", got)
	}
}
