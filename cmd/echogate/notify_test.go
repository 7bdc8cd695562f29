package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// The sd_notify protocol, the watchdog and the journald log format, seen from outside the real binary.

// notifySink is a unix datagram socket standing in for systemd's $NOTIFY_SOCKET.
type notifySink struct {
	path string
	msgs chan string
}

// newNotifySink binds the socket in a fresh temporary directory and collects what arrives.
func newNotifySink(t *testing.T) *notifySink {
	t.Helper()
	dir := t.TempDir()
	if len(dir) > 90 { // unix socket paths are limited to 108 bytes
		var err error
		if dir, err = os.MkdirTemp("", "sdn"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	s := &notifySink{path: filepath.Join(dir, "notify"), msgs: make(chan string, 1024)}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(s.msgs)
				return
			}
			s.msgs <- string(buf[:n])
		}
	}()
	return s
}

// next returns the next message, failing after timeout.
func (s *notifySink) next(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(timeout):
		t.Fatalf("no sd_notify message within %s", timeout)
		return ""
	}
}

// expect reads the next message, checks that its first line is state and returns its fields.
func (s *notifySink) expect(t *testing.T, state string) map[string]string {
	t.Helper()
	m := s.next(t, 15*time.Second)
	if first, _, _ := strings.Cut(m, "\n"); first != state {
		t.Fatalf("sd_notify: got %q, want %s first", m, state)
	}
	return notifyFields(t, m)
}

// notifyFields splits a message into its KEY=VALUE lines.
func notifyFields(t *testing.T, m string) map[string]string {
	t.Helper()
	fields := map[string]string{}
	for _, line := range strings.Split(m, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("sd_notify: line %q of %q is not KEY=VALUE", line, m)
		}
		fields[k] = v
	}
	return fields
}

// expectReload checks one reload's pair of messages, RELOADING=1 with MONOTONIC_USEC taken while it ran, then
// READY=1, and returns the READY status. trigger starts the reload.
func (s *notifySink) expectReload(t *testing.T, trigger func()) string {
	t.Helper()
	before := echotest.MonotonicUsec(t)
	trigger()
	m := s.expect(t, "RELOADING=1")
	after := echotest.MonotonicUsec(t)
	usec, err := strconv.ParseInt(m["MONOTONIC_USEC"], 10, 64)
	if err != nil {
		t.Fatalf("RELOADING=1 without a valid MONOTONIC_USEC: %v", m)
	}
	if usec < before || usec > after {
		t.Errorf("MONOTONIC_USEC=%d is not between %d and %d (CLOCK_MONOTONIC around the reload)", usec, before, after)
	}
	return s.expect(t, "READY=1")["STATUS"]
}

// The daemon tells systemd READY=1 once serving, RELOADING=1 (with MONOTONIC_USEC) then READY=1 around every
// reload, whether it came from the file watcher or SIGHUP and whether it worked or not, and STOPPING=1 on
// SIGTERM, in this order and nothing else.
func TestNotifyProtocol(t *testing.T) {
	t.Parallel()
	sink := newNotifySink(t)
	config := func(maxLine int) string {
		return echotest.UnboundListener("n", "tcp", `address = "127.0.0.1:0"`, "max_line = "+strconv.Itoa(maxLine))
	}
	d := echotest.Start(t, config(100), echotest.Options{Env: []string{"NOTIFY_SOCKET=" + sink.path}})
	if st := sink.expect(t, "READY=1")["STATUS"]; st != "serving 1 listeners" {
		t.Errorf("first READY=1: STATUS=%q", st)
	}
	if st := sink.expectReload(t, func() { echotest.SaveAtomic(t, d.Config, config(200)) }); !strings.Contains(st, "last reload ok") {
		t.Errorf("READY=1 after a good reload: STATUS=%q", st)
	}
	st := sink.expectReload(t, func() { echotest.SaveAtomic(t, d.Config, config(200)+"max_line = oops\n") })
	if !strings.HasPrefix(st, "last reload failed: ") || !strings.Contains(st, "echogate.toml") {
		t.Errorf("READY=1 after a rejected reload: STATUS=%q", st)
	}
	if st := sink.expectReload(t, func() { echotest.SaveAtomic(t, d.Config, config(300)) }); !strings.Contains(st, "last reload ok") {
		t.Errorf("READY=1 after the file was fixed: STATUS=%q", st)
	}
	if st := sink.expectReload(t, func() { d.Signal(syscall.SIGHUP) }); !strings.Contains(st, "last reload ok") {
		t.Errorf("READY=1 after SIGHUP: STATUS=%q", st)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if st := sink.expect(t, "STOPPING=1")["STATUS"]; !strings.Contains(st, "stopping") {
		t.Errorf("STOPPING=1: STATUS=%q", st)
	}
	select {
	case m := <-sink.msgs:
		t.Errorf("message after STOPPING=1: %q", m)
	default:
	}
}

// With WATCHDOG_USEC set (and WATCHDOG_PID naming the daemon) the loop pings WATCHDOG=1 at half the interval;
// a WATCHDOG_PID of another process turns the pings off.
func TestNotifyWatchdog(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		opts  echotest.Options
		pings bool
	}{
		{"for this process", echotest.Options{Wrap: echotest.ViaShell("WATCHDOG_PID")}, true},
		{"for another process", echotest.Options{Env: []string{"WATCHDOG_PID=1"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := newNotifySink(t)
			tc.opts.Env = append(tc.opts.Env, "NOTIFY_SOCKET="+sink.path, "WATCHDOG_USEC=200000")
			d := echotest.Start(t, echotest.UnboundListener("w", "tcp", `address = "127.0.0.1:0"`), tc.opts)
			window := 2 * time.Second // pings should come every 100ms
			if !tc.pings {
				window = time.Second // ten pings' worth of silence
			}
			pings, ready := 0, false
			deadline := time.After(window)
		collect:
			for !ready || !tc.pings || pings < 3 {
				select {
				case m := <-sink.msgs:
					switch {
					case m == "WATCHDOG=1":
						pings++
					case strings.HasPrefix(m, "READY=1\n"):
						ready = true
					default:
						t.Fatalf("unexpected sd_notify message %q", m)
					}
				case <-deadline:
					break collect
				}
			}
			if !ready {
				t.Fatal("no READY=1")
			}
			if tc.pings && pings < 3 {
				t.Fatalf("%d WATCHDOG=1 within 2s with WATCHDOG_USEC=200000, want at least 3", pings)
			}
			if !tc.pings && pings > 0 {
				t.Fatalf("%d WATCHDOG=1 although WATCHDOG_PID names another process", pings)
			}
			if err := d.Stop(); err != nil {
				t.Fatalf("exit: %v", err)
			}
		})
	}
}

var (
	journalLine = regexp.MustCompile(`^<[3-7]>[^<\s]`)
	clockTime   = regexp.MustCompile(`\d\d:\d\d:\d\d`)
)

// Under journald (JOURNAL_STREAM names stderr's device and inode) -log-format auto writes "<N>" priority
// lines without a timestamp; a JOURNAL_STREAM that names some other file is ignored.
func TestJournalLogFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		journal bool
	}{{"stderr is the journal stream", true}, {"stale JOURNAL_STREAM", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lines := runWithStderrFile(t, tc.journal)
			prio := map[string]bool{}
			for _, l := range lines {
				if tc.journal && (!journalLine.MatchString(l) || strings.Contains(l, "time=") ||
					clockTime.MatchString(l)) {
					t.Errorf("not a journald line (priority prefix, no timestamp): %q", l)
				}
				if !tc.journal && !strings.HasPrefix(l, "time=") {
					t.Errorf("not a plain text line: %q", l)
				}
				prio[l[:min(3, len(l))]] = true
			}
			if tc.journal && (!prio["<6>"] || !prio["<4>"]) {
				t.Errorf("want info <6> and warning <4> lines, got:\n%s", strings.Join(lines, "\n"))
			}
		})
	}
}

// runWithStderrFile runs the daemon with stderr on a file and JOURNAL_STREAM naming that file (or, with
// journal false, another inode), an unreachable NOTIFY_SOCKET so that a warning is logged, and stops it
// once ready. It returns the log lines.
func runWithStderrFile(t *testing.T, journal bool) []string {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "echogate.toml")
	if err := os.WriteFile(config, []byte(echotest.UnboundListener("j", "tcp", `address = "127.0.0.1:0"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "stderr.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	ino := st.Ino
	if !journal {
		ino++
	}
	cmd := exec.Command(echotest.Bin(), "run", "-log-format", "auto", "-config", config)
	cmd.Env = append(os.Environ(), "JOURNAL_STREAM="+strconv.FormatUint(st.Dev, 10)+":"+strconv.FormatUint(ino, 10),
		"NOTIFY_SOCKET="+filepath.Join(dir, "nobody-listens"))
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(logPath); strings.Contains(string(b), "echogate ready") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon did not log echogate ready")
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not exit")
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for sc := bufio.NewScanner(strings.NewReader(string(b))); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	return lines
}
