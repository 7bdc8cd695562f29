package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"echogate/listeners"
)

// The integration tests run the real echogate binary: $ECHOGATE_BIN (make test builds it with -race), or one
// built into a temporary directory by TestMain.
var echogateBin string

func TestMain(m *testing.M) {
	echogateBin = os.Getenv("ECHOGATE_BIN")
	cleanup := func() {}
	if echogateBin == "" {
		dir, err := os.MkdirTemp("", "echogate-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cleanup = func() { os.RemoveAll(dir) }
		echogateBin = filepath.Join(dir, "echogate")
		out, err := exec.Command("go", "build", "-race", "-o", echogateBin, ".").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building echogate: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// logBuffer collects the daemon's stderr and lets tests wait for lines.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func (b *logBuffer) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		b.mu.Lock()
		b.lines = append(b.lines, sc.Text())
		b.mu.Unlock()
		select {
		case b.added <- struct{}{}:
		default:
		}
	}
}

func (b *logBuffer) snapshot() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...)
}

// testDaemon is a running echogate under test.
type testDaemon struct {
	t       *testing.T
	cmd     *exec.Cmd
	log     *logBuffer
	dir     string
	config  string
	exited  chan struct{}
	waitErr error
}

// daemonOptions adjust how startDaemon runs the binary.
type daemonOptions struct {
	args     []string // extra arguments after `run`
	env      []string // extra environment
	files    []*os.File
	noConfig bool     // do not pass -config (use args, e.g. -listen)
	wrap     []string // a command that execs the binary put after it: viaShell(...), systemd-socket-activate
	noReady  bool     // return at once instead of waiting for "echogate ready"
	// logReader, when set, is read instead of the daemon's stderr pipe, which it is given: a test can stall
	// or close the log's reader.
	logReader func(stderr io.ReadCloser) io.Reader
}

// startDaemon writes toml to a temp dir as echogate.toml and runs `echogate run -config` on it, waiting for
// "echogate ready". The daemon is stopped when the test ends.
func startDaemon(t *testing.T, toml string, opts ...daemonOptions) *testDaemon {
	t.Helper()
	var o daemonOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	dir := t.TempDir()
	d := &testDaemon{t: t, log: &logBuffer{added: make(chan struct{}, 1)}, dir: dir,
		config: filepath.Join(dir, "echogate.toml"), exited: make(chan struct{})}
	args := []string{"run", "-log-format", "text", "-log-level", "debug"}
	if !o.noConfig {
		if err := os.WriteFile(d.config, []byte(toml), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-config", d.config)
	}
	args = append(args, o.args...)
	if len(o.wrap) > 0 {
		args = append(append(o.wrap[1:len(o.wrap):len(o.wrap)], echogateBin), args...)
		d.cmd = exec.Command(o.wrap[0], args...)
	} else {
		d.cmd = exec.Command(echogateBin, args...)
	}
	// No control socket under a RuntimeDirectory= the tests may run in, unless a test asks for one.
	d.cmd.Env = append(append(os.Environ(), "RUNTIME_DIRECTORY="), o.env...)
	d.cmd.ExtraFiles = o.files
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logs io.Reader = stderr
	if o.logReader != nil {
		logs = o.logReader(stderr)
	}
	go func() {
		d.log.consume(logs) // to EOF before Wait closes the pipe, so no line logged before exit is lost
		io.Copy(io.Discard, logs)
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(d.kill)
	if o.noReady {
		return d
	}
	if _, err := d.waitLog("echogate ready", 15*time.Second); err != nil {
		t.Fatalf("daemon did not become ready: %v\n%s", err, strings.Join(d.log.snapshot(), "\n"))
	}
	return d
}

// waitLog waits until a log line contains substr and returns it.
func (d *testDaemon) waitLog(substr string, timeout time.Duration) (string, error) {
	return d.waitLogAfter(0, substr, timeout)
}

// waitLogAfter is waitLog for lines after the first skip lines.
func (d *testDaemon) waitLogAfter(skip int, substr string, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		lines := d.log.snapshot()
		for _, l := range lines[min(skip, len(lines)):] {
			if strings.Contains(l, substr) {
				return l, nil
			}
		}
		select {
		case <-d.log.added:
		case <-d.exited:
			return "", fmt.Errorf("daemon exited (%v) before logging %q", d.waitErr, substr)
		case <-deadline:
			return "", fmt.Errorf("no log line with %q within %s", substr, timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logLines returns how many lines the daemon has logged so far (a mark for waitLogAfter).
func (d *testDaemon) logLines() int { return len(d.log.snapshot()) }

var addrAttr = regexp.MustCompile(`listener=(\S+)(?: protocol=\S+)? addr=(\S+)`)

// addr returns where the named listener serves, from the newest "serving" or "reload: listener" log line.
func (d *testDaemon) addr(name string) string {
	d.t.Helper()
	lines := d.log.snapshot()
	for i := len(lines) - 1; i >= 0; i-- {
		if m := addrAttr.FindStringSubmatch(lines[i]); m != nil && m[1] == name {
			return m[2]
		}
	}
	d.t.Fatalf("no address logged for listener %q\n%s", name, strings.Join(lines, "\n"))
	return ""
}

// stop sends SIGTERM and waits for a clean exit.
func (d *testDaemon) stop() error {
	d.cmd.Process.Signal(syscall.SIGTERM)
	return d.wait(15 * time.Second)
}

// wait waits for the daemon to exit and returns its exit error (nil for status 0).
func (d *testDaemon) wait(timeout time.Duration) error {
	select {
	case <-d.exited:
		return d.waitErr
	case <-time.After(timeout):
		return fmt.Errorf("daemon did not exit within %s", timeout)
	}
}

func (d *testDaemon) kill() {
	select {
	case <-d.exited:
	default:
		d.cmd.Process.Kill()
		<-d.exited
	}
	if d.t.Failed() {
		d.t.Logf("daemon log:\n%s", strings.Join(d.log.snapshot(), "\n"))
	}
}

// dialTCP connects to addr with a deadline on every later operation.
func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// readExactly reads len(want) bytes and compares them.
func readExactly(t *testing.T, c net.Conn, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading %q: got %q: %v", want, got[:bytes.IndexByte(append(got, 0), 0)], err)
	}
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// roundTrip sends line on c and expects want back.
func roundTrip(t *testing.T, c net.Conn, line, want string) {
	t.Helper()
	if _, err := io.WriteString(c, line); err != nil {
		t.Fatal(err)
	}
	readExactly(t, c, want)
}

// viaShell is a daemonOptions.wrap that starts the binary through sh, which sets each of vars (LISTEN_PID,
// WATCHDOG_PID) to its own pid and then execs echogate in its place: the variables hold the daemon's pid, as
// when systemd starts it.
func viaShell(vars ...string) []string {
	script := ""
	for _, v := range vars {
		script += "export " + v + "=$$; "
	}
	return []string{"sh", "-c", script + `exec "$0" "$@"`}
}

// statsReply is a decoded `/stats json` reply: the daemon's own type, so that a test reads what it serves.
type statsReply = listeners.Snapshot

// statsOn asks for `/stats json` on c, which must have nothing else in flight, and decodes the reply.
func statsOn(t *testing.T, c net.Conn) statsReply {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "/stats json\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReaderSize(c, 64<<10).ReadString('\n')
	if err != nil {
		t.Fatalf("/stats json: %v (got %q)", err, line)
	}
	var s statsReply
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatalf("/stats json: %v in %q", err, line)
	}
	return s
}
