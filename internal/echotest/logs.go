package echotest

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

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

// Lines returns every line the daemon has logged so far.
func (d *Daemon) Lines() []string {
	d.log.mu.Lock()
	defer d.log.mu.Unlock()
	return append([]string(nil), d.log.lines...)
}

// LogLines returns how many lines the daemon has logged so far: a mark for WaitLogAfter.
func (d *Daemon) LogLines() int { return len(d.Lines()) }

// WaitLog waits until a log line contains substr and returns it.
func (d *Daemon) WaitLog(substr string, timeout time.Duration) (string, error) {
	return d.WaitLogAfter(0, substr, timeout)
}

// WaitLogAfter is WaitLog for lines after the first skip lines.
func (d *Daemon) WaitLogAfter(skip int, substr string, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		lines := d.Lines()
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

// LinesAfter returns the log lines after the first mark lines that contain substr.
func (d *Daemon) LinesAfter(mark int, substr string) []string {
	var out []string
	lines := d.Lines()
	for _, l := range lines[min(mark, len(lines)):] {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// CountLogAfter counts the log lines after the first mark lines that contain substr.
func (d *Daemon) CountLogAfter(mark int, substr string) int { return len(d.LinesAfter(mark, substr)) }

var addrAttr = regexp.MustCompile(`listener=(\S+)(?: protocol=\S+)? addr=(\S+)`)

// Addr returns where the named listener serves, from the newest "serving" or "reload: listener" log line.
func (d *Daemon) Addr(name string) string {
	d.t.Helper()
	lines := d.Lines()
	for i := len(lines) - 1; i >= 0; i-- {
		if m := addrAttr.FindStringSubmatch(lines[i]); m != nil && m[1] == name {
			return m[2]
		}
	}
	d.t.Fatalf("no address logged for listener %q\n%s", name, strings.Join(lines, "\n"))
	return ""
}

// AwaitReload waits for the reload summary logged after mark, checks that it reports result=ok and
// returns it.
func (d *Daemon) AwaitReload(t *testing.T, mark int) string {
	t.Helper()
	line, err := d.WaitLogAfter(mark, "msg=reload result=", 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "result=ok") {
		t.Fatalf("reload not ok: %s", line)
	}
	return line
}

// AwaitReloadFailed waits for a rejected reload logged after mark and checks that nothing was applied.
func (d *Daemon) AwaitReloadFailed(t *testing.T, mark int) string {
	t.Helper()
	line, err := d.WaitLogAfter(mark, "reload failed", 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if applied, err := d.WaitLogAfter(mark, "msg=reload result=", 0); err == nil {
		t.Fatalf("a rejected file was applied: %s", applied)
	}
	return line
}

// LogDuration reads a duration attribute such as took=1.5ms from a log line.
func LogDuration(line, key string) (time.Duration, bool) {
	_, rest, ok := strings.Cut(line, " "+key+"=")
	if !ok {
		return 0, false
	}
	v, _, _ := strings.Cut(rest, " ")
	d, err := time.ParseDuration(v)
	return d, err == nil
}

// ExpectNotLogged fails t for every log line so far that holds one of secrets (a token, a guessed token):
// what a client sends to prove itself must never reach the log.
func (d *Daemon) ExpectNotLogged(t *testing.T, secrets ...string) {
	t.Helper()
	for _, l := range d.Lines() {
		for _, s := range secrets {
			if strings.Contains(l, s) {
				t.Errorf("a secret (%.8s...) reached the log: %.200s", s, l)
			}
		}
	}
}
