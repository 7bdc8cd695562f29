package echotest

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

	"echogate/internal/procstat"
)

// Daemon is a running `echogate run` under test, stopped when its test ends.
type Daemon struct {
	t       *testing.T
	Cmd     *exec.Cmd
	log     *logBuffer
	Dir     string // the test's temporary directory, holding Config
	Config  string // the config file's path
	exited  chan struct{}
	waitErr error
}

// Options adjust how Start runs the binary.
type Options struct {
	Args     []string // extra arguments after `run`
	Env      []string // extra environment
	Files    []*os.File
	NoConfig bool     // do not pass -config (use Args, e.g. -listen or -config elsewhere)
	Wrap     []string // a command that execs the binary put after it: ViaShell(...), systemd-socket-activate
	NoReady  bool     // return at once instead of waiting for "echogate ready"
	// LogReader, when set, is read instead of the daemon's stderr pipe, which it is given: a test can stall
	// or close the log's reader.
	LogReader func(stderr io.ReadCloser) io.Reader
}

// Start writes toml to a temp dir as echogate.toml and runs `echogate run -config` on it, with text logs at
// debug level, waiting for "echogate ready". The daemon is killed when the test ends, and its log printed if
// the test failed.
func Start(t *testing.T, toml string, opts ...Options) *Daemon {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	dir := t.TempDir()
	d := &Daemon{t: t, log: &logBuffer{added: make(chan struct{}, 1)}, Dir: dir,
		Config: filepath.Join(dir, "echogate.toml"), exited: make(chan struct{})}
	args := []string{"run", "-log-format", "text", "-log-level", "debug"}
	if !o.NoConfig {
		if err := os.WriteFile(d.Config, []byte(toml), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-config", d.Config)
	}
	args = append(args, o.Args...)
	if len(o.Wrap) > 0 {
		args = append(append(o.Wrap[1:len(o.Wrap):len(o.Wrap)], Bin()), args...)
		d.Cmd = exec.Command(o.Wrap[0], args...)
	} else {
		d.Cmd = exec.Command(Bin(), args...)
	}
	// No control socket under a RuntimeDirectory= the tests may run in, unless a test asks for one.
	d.Cmd.Env = append(append(os.Environ(), "RUNTIME_DIRECTORY="), o.Env...)
	d.Cmd.ExtraFiles = o.Files
	stderr, err := d.Cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logs io.Reader = stderr
	if o.LogReader != nil {
		logs = o.LogReader(stderr)
	}
	go func() {
		d.log.consume(logs) // to EOF before Wait closes the pipe, so no line logged before exit is lost
		_, _ = io.Copy(io.Discard, logs)
		d.waitErr = d.Cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(d.kill)
	if o.NoReady {
		return d
	}
	if _, err := d.WaitLog("echogate ready", 15*time.Second); err != nil {
		t.Fatalf("daemon did not become ready: %v\n%s", err, strings.Join(d.Lines(), "\n"))
	}
	return d
}

// StartAt writes toml to path (in a directory of the test's choosing) and runs the daemon on it.
func StartAt(t *testing.T, path, toml string) *Daemon {
	t.Helper()
	SaveInPlace(t, path, toml)
	return Start(t, "", Options{NoConfig: true, Args: []string{"-config", path}})
}

// ViaShell is an Options.Wrap that starts the binary through sh, which sets each of vars (LISTEN_PID,
// WATCHDOG_PID) to its own pid and then execs echogate in its place: the variables hold the daemon's pid, as
// when systemd starts it.
func ViaShell(vars ...string) []string {
	script := ""
	for _, v := range vars {
		script += "export " + v + "=$$; "
	}
	return []string{"sh", "-c", script + `exec "$0" "$@"`}
}

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.Cmd.Process.Pid }

// Signal sends sig to the daemon.
func (d *Daemon) Signal(sig os.Signal) {
	d.t.Helper()
	if err := d.Cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Stop sends SIGTERM and waits for the exit (15 s at most); it returns the exit error, nil for status 0.
func (d *Daemon) Stop() error {
	_ = d.Cmd.Process.Signal(syscall.SIGTERM)
	return d.Wait(15 * time.Second)
}

// Wait waits for the daemon to exit and be reaped, and returns its exit error (nil for status 0).
func (d *Daemon) Wait(timeout time.Duration) error {
	select {
	case <-d.exited:
		return d.waitErr
	case <-time.After(timeout):
		return fmt.Errorf("daemon did not exit within %s", timeout)
	}
}

// Exited is closed once the daemon has exited and been reaped.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// ExpectExit waits for the daemon to exit (15 s at most) and checks its exit status.
func (d *Daemon) ExpectExit(t *testing.T, want int) {
	t.Helper()
	err := d.Wait(15 * time.Second)
	if want == 0 && err == nil {
		return
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != want {
		t.Fatalf("daemon exit: %v, want status %d", err, want)
	}
}

func (d *Daemon) kill() {
	select {
	case <-d.exited:
	default:
		_ = d.Cmd.Process.Kill()
		<-d.exited
	}
	if d.t.Failed() {
		d.t.Logf("daemon log:\n%s", strings.Join(d.Lines(), "\n"))
	}
}

// Usage reads the daemon's /proc figures.
func (d *Daemon) Usage() procstat.Usage {
	d.t.Helper()
	u, err := procstat.Read(d.Pid())
	if err != nil {
		d.t.Fatal(err)
	}
	return u
}

// SettledUsage is the daemon's usage once its descriptor count holds still for 200 ms: just after start, a
// goroutine off the loop may hold a short-lived descriptor (the netlink socket that reads the host's
// addresses), which a baseline must not count.
func (d *Daemon) SettledUsage() procstat.Usage {
	d.t.Helper()
	u := d.Usage()
	for range 25 {
		time.Sleep(200 * time.Millisecond)
		next := d.Usage()
		if next.FDs == u.FDs {
			return next
		}
		u = next
	}
	return u
}

// WaitFDs waits until the daemon has at most want descriptors open and returns the last count.
func (d *Daemon) WaitFDs(want int, timeout time.Duration) int {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n, err := procstat.FDs(d.Pid())
		if err != nil {
			d.t.Fatal(err)
		}
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PeakRSS returns the daemon's peak resident memory so far (VmHWM), in bytes.
func (d *Daemon) PeakRSS() int64 {
	d.t.Helper()
	n, err := procstat.PeakRSSBytes(d.Pid())
	if err != nil {
		d.t.Fatal(err)
	}
	return n
}
