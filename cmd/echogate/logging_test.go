package main

import (
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// Tests of the log path: a reader of stderr that stops or goes away must not stall or kill the daemon, and
// what remote peers can make it log is summarised.

// stallReader passes the daemon's stderr through until stop is called; then reads block until resume, so
// the pipe fills as behind a stopped log shipper.
type stallReader struct {
	src     io.Reader
	stalled atomic.Bool
	resumed chan struct{}
	once    sync.Once
}

func (s *stallReader) Read(p []byte) (int, error) {
	if s.stalled.Load() {
		<-s.resumed
	}
	return s.src.Read(p)
}

func (s *stallReader) stop()   { s.stalled.Store(true) }
func (s *stallReader) resume() { s.once.Do(func() { close(s.resumed) }) }

// stallable returns echotest.Options whose log reader the test can stop. The test must make it resume when it
// ends (t.Cleanup after echotest.Start, so that it runs before the daemon is killed and its log read to EOF).
func stallable() (*stallReader, echotest.Options) {
	s := &stallReader{resumed: make(chan struct{})}
	return s, echotest.Options{LogReader: func(stderr io.ReadCloser) io.Reader {
		s.src = stderr
		return s
	}}
}

// churn opens and closes connections to addr from workers goroutines until stop is closed, 5 s have passed
// or max connections were made: each one is a debug line in the daemon's log. It returns how many it made.
func churn(addr string, workers, max int, stop <-chan struct{}) func() int {
	var made atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(5 * time.Second)
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) && made.Load() < int64(max) {
				select {
				case <-stop:
					return
				default:
				}
				if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
					c.Close()
					made.Add(1)
				}
			}
		})
	}
	return func() int { wg.Wait(); return int(made.Load()) }
}

// p99 returns the 99th percentile of ds.
func p99(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)]
}

// TestLogStalledReaderKeepsEchoing stops reading the daemon's stderr and fills it with debug lines (one per
// connection) while a client does TCP and UDP echo round trips: the loop must never wait for the log, so
// every round trip completes, and the lost lines are counted and then reported.
func TestLogStalledReaderKeepsEchoing(t *testing.T) {
	t.Parallel()
	logs, opts := stallable()
	d := echotest.Start(t, echotest.TCP("echo")+
		echotest.UDP("uecho")+
		echotest.TCP("churn"), opts)
	t.Cleanup(logs.resume)
	echo, uecho, churnAddr := d.Addr("echo"), d.Addr("uecho"), d.Addr("churn")
	c := echotest.DialTCP(t, echo)
	u, err := echotest.ListenUDPErr(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echotest.RoundTrip(t, c, "before\n", "before\n")

	logs.stop()
	stop := make(chan struct{})
	made := churn(churnAddr, 2, 40000, stop)
	var stopOnce sync.Once
	stopChurn := func() { stopOnce.Do(func() { close(stop); made() }) }
	defer stopChurn()
	s := echotest.StatsOn(t, c) // the loop answers although its log lines have nowhere to go
	for deadline := time.Now().Add(15 * time.Second); s.LogsDropped == 0; s = echotest.StatsOn(t, c) {
		if time.Now().After(deadline) {
			t.Fatalf("logs_dropped = 0 after %d connections", s.Listeners["churn"].Accepted)
		}
		time.Sleep(20 * time.Millisecond)
	}

	const rounds = 300
	var tcpRTT, udpRTT []time.Duration
	for i := range rounds {
		line := fmt.Sprintf("round %d\n", i)
		start := time.Now()
		echotest.RoundTrip(t, c, line, line)
		tcpRTT = append(tcpRTT, time.Since(start))
		start = time.Now()
		echotest.ExpectUDPEcho(t, u, uecho, line, line)
		udpRTT = append(udpRTT, time.Since(start))
	}
	s = echotest.StatsOn(t, c)
	t.Logf("reader stopped: %d TCP and %d UDP round trips, p99 %s TCP, %s UDP; logs_dropped=%d after %d connections",
		len(tcpRTT), len(udpRTT), p99(tcpRTT), p99(udpRTT), s.LogsDropped, s.Listeners["churn"].Accepted)
	if s.LogsDropped == 0 {
		t.Fatal("logs_dropped = 0 with a stopped reader")
	}

	stopChurn()
	mark := d.LogLines()
	logs.resume()
	line, err := d.WaitLogAfter(mark, `msg="log lines dropped"`, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n := logUint(t, line, "count"); n == 0 || n > s.LogsDropped+uint64(2*rounds) {
		t.Errorf("report %q: count out of range (logs_dropped was %d)", line, s.LogsDropped)
	}
	echotest.RoundTrip(t, c, "after\n", "after\n")
}

// logUint reads key=N from a log line.
func logUint(t *testing.T, line, key string) uint64 {
	t.Helper()
	m := regexp.MustCompile(`\b` + key + `=(\d+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no %s= in %q", key, line)
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// TestLogReaderExitsShutdownRefused closes the daemon's stderr reader, then asks for /shutdown from outside
// admin_allow, which logs a refusal: the write meets a closed pipe, and the daemon must carry on (Go would
// exit with SIGPIPE) and count the line as dropped.
func TestLogReaderExitsShutdownRefused(t *testing.T) {
	t.Parallel()
	var stderr io.ReadCloser
	d := echotest.Start(t, echotest.TCP("admin", `admin_allow = ["10.0.0.0/8"]`), echotest.Options{LogReader: func(r io.ReadCloser) io.Reader { stderr = r; return r }})
	admin := d.Addr("admin")
	if err := stderr.Close(); err != nil {
		t.Fatal(err)
	}
	c := echotest.DialTCP(t, admin)
	echotest.RoundTrip(t, c, "/shutdown x\n", "ERR shutdown-loopback-required\n")
	deadline := time.Now().Add(10 * time.Second)
	s := echotest.StatsOn(t, c)
	for s.LogsDropped == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		s = echotest.StatsOn(t, c)
	}
	if s.LogsDropped == 0 || s.Listeners["admin"].ShutdownRefused != 1 {
		t.Fatalf("logs_dropped = %d, shutdown_refused = %d: want both > 0", s.LogsDropped,
			s.Listeners["admin"].ShutdownRefused)
	}
	echotest.RoundTrip(t, c, "/shutdown y\n", "ERR shutdown-loopback-required\n")
	echotest.RoundTrip(t, c, "still here\n", "still here\n")
	echotest.RoundTrip(t, echotest.DialTCP(t, admin), "a new client\n", "a new client\n")
	if err := d.Stop(); err != nil {
		t.Fatalf("exit with a closed stderr: %v", err)
	}
}

// refusedLine matches a refusal summary and captures its count.
var refusedLine = regexp.MustCompile(`msg=refused listener=(\S+) reason=(\S+) count=(\d+) last_peer=(\S+)`)

// refusals sums the counts of the summary lines for listener and reason logged after mark, and returns them
// with the number of lines.
func refusals(d *echotest.Daemon, mark int, listener, reason string) (total uint64, lines int) {
	for _, l := range d.Lines()[mark:] {
		if m := refusedLine.FindStringSubmatch(l); m != nil && m[1] == listener && m[2] == reason {
			n, _ := strconv.ParseUint(m[3], 10, 64)
			total += n
			lines++
		}
	}
	return total, lines
}

// TestLogRefusalsSummarised sends 10 000 refused /shutdown attempts (120 KB) down one connection: the log
// gets a bounded number of summary lines whose counts add up to 10 000, not a line per attempt (before, each
// was a WARN line: 1.2 MB of log).
func TestLogRefusalsSummarised(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.DaemonTOML(`log_refusals_every = "1s"`)+
		echotest.TCP("admin", `admin_allow = ["10.0.0.0/8"]`))
	const attempts, batch = 10000, 100
	mark := d.LogLines()
	start := time.Now()
	c := echotest.DialTCP(t, d.Addr("admin"))
	for range attempts / batch { // in batches, so that they span many wake-ups of the loop
		echotest.RoundTrip(t, c, strings.Repeat("/shutdown x\n", batch), strings.Repeat("ERR shutdown-loopback-required\n", batch))
	}
	var total uint64
	var lines int
	for deadline := time.Now().Add(10 * time.Second); total < attempts && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		total, lines = refusals(d, mark, "admin", "admin_allow")
	}
	took := time.Since(start)
	if total != attempts {
		t.Fatalf("summaries count %d refusals in %d lines, want %d", total, lines, attempts)
	}
	// One line at once, then at most one per second.
	if most := 2 + int(took/time.Second); lines > most {
		t.Errorf("%d summary lines in %s, want at most %d", lines, took, most)
	}
	if all := d.LogLines() - mark; all > lines+10 {
		t.Errorf("%d log lines for %d attempts:\n%s", all, attempts, strings.Join(d.Lines()[mark:], "\n"))
	}
	if got := echotest.StatsOn(t, c).Listeners["admin"].ShutdownRefused; got != attempts {
		t.Errorf("shutdown_refused = %d, want %d", got, attempts)
	}
	t.Logf("%d refused attempts: %d summary lines (of %d log lines) in %s", attempts, lines, d.LogLines()-mark, took)
}

// TestLogRefusalsAtDefaultLevel checks that, at the default log level, a client refused by allow, by
// max_conns or by max_conns_per_ip, over TCP or UDP, finds a line that says why.
func TestLogRefusalsAtDefaultLevel(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCP("diag", `allow = ["10.0.0.0/8"]`)+
		echotest.TCP("small", "max_conns = 1")+
		echotest.TCP("perip", "max_conns_per_ip = 1")+
		echotest.UDP("udiag", `allow = ["10.0.0.0/8"]`), echotest.Options{Args: []string{"-log-level", "info"}})
	busy := func(name string) func(t *testing.T) string {
		return func(t *testing.T) string {
			echotest.RoundTrip(t, echotest.DialTCP(t, d.Addr(name)), "held\n", "held\n")
			c := echotest.DialTCP(t, d.Addr(name))
			hExpectBusy(t, c)
			return c.LocalAddr().String()
		}
	}
	for _, tc := range []struct {
		name, listener, reason string
		refuse                 func(t *testing.T) string // returns the refused client's address
	}{
		{"tcp outside allow", "diag", "cidr", func(t *testing.T) string {
			c := echotest.DialTCP(t, d.Addr("diag"))
			echotest.ExpectEOF(t, c)
			return c.LocalAddr().String()
		}},
		{"max_conns", "small", "busy", busy("small")},
		{"max_conns_per_ip", "perip", "per_ip", busy("perip")},
		{"udp outside allow", "udiag", "cidr", func(t *testing.T) string {
			u, err := echotest.ListenUDPErr(t, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			echotest.SendUDP(t, u, d.Addr("udiag"), "anyone there?")
			return u.LocalAddr().String()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer := tc.refuse(t)
			want := fmt.Sprintf("level=INFO msg=refused listener=%s reason=%s count=1 last_peer=%s",
				tc.listener, tc.reason, peer)
			if _, err := d.WaitLog(want, 5*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}
