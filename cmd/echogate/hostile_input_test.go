package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// junkNoNewline returns n random bytes without '\n'.
func junkNoNewline(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		if b[i] = byte(r.UintN(256)); b[i] == '\n' {
			b[i] = 0
		}
	}
	return b
}

// junkLines returns about n bytes of random short lines that are not commands (no line starts with '/').
func junkLines(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		line := junkNoNewline(r, 1+r.IntN(200))
		if line[0] == '/' {
			line[0] = '.'
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// hSendExpect writes the chunks from a goroutine (so a large input cannot deadlock against the replies) and
// expects exactly want back, then EOF when closed is set.
func hSendExpect(t *testing.T, addr string, want string, closed bool, chunks ...[]byte) {
	t.Helper()
	c := echotest.Dial(t, addr, patient)
	werr := make(chan error, 1)
	go func() {
		for _, b := range chunks {
			if _, err := c.Write(b); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	echotest.ReadExactly(t, c, want)
	if closed { // EOF, or a reset when the daemon closed with input of ours still unread
		var one [1]byte
		if n, err := c.Read(one[:]); n != 0 || err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("want the connection closed, got %q, %v", one[:n], err)
		}
	}
	if err := <-werr; err != nil && !closed {
		t.Fatalf("write: %v", err)
	}
}

func TestHostileGarbage(t *testing.T) {
	t.Parallel()
	token := strings.Repeat("k", 1_000_000) // a megabyte token that is the wrong one
	tokenFile := pWriteToken(t, t.TempDir(), "shutdown.token", "the-right-token\n", 0o600)
	d := echotest.Start(t, echotest.TCP("junk")+
		echotest.TCP("wide", "max_line = 1048576", fmt.Sprintf("token_file = %q", tokenFile)))
	junk, wide := d.Addr("junk"), d.Addr("wide")
	r := rand.New(rand.NewPCG(7, 7))
	binLines := junkLines(r, 64<<10)
	const tooLong = "ERR too-long-line\n"
	b := func(s string) []byte { return []byte(s) }
	for _, tc := range []struct {
		name   string
		addr   string
		chunks [][]byte
		want   string
		closed bool
	}{
		{"binary without newline", junk, [][]byte{junkNoNewline(r, 1<<20), b("\nafter\n")}, tooLong + "after\n", false},
		{"binary lines", junk, [][]byte{binLines}, string(binLines), false},
		{"lone CR", junk, [][]byte{b("a\rb\r\rc\n\r\n\r"), b("\n")}, "a\rb\r\rc\n\r\n\r\n", false},
		{"NULs", junk, [][]byte{b("\x00\n"), bytes.Repeat(b("\x00"), 4096), b("\n")},
			"\x00\n" + strings.Repeat("\x00", 4096) + "\n", false},
		{"NULs over max_line", junk, [][]byte{bytes.Repeat(b("\x00"), 4097), b("\nok\n")}, tooLong + "ok\n", false},
		{"command garbage", junk, [][]byte{b("/\n/STATS\n/stats\x00\n/stats bogus\n/\x00\x01\n")},
			"ERR unknown-command\nERR unknown-command\nERR unknown-command\nERR unknown-argument\nERR unknown-command\n",
			false},
		{"stats 100 KB argument", junk, [][]byte{b("/stats " + strings.Repeat("a", 100_000) + "\n")}, tooLong, false},
		{"shutdown megabyte token", junk, [][]byte{b("/shutdown " + token + "\n")}, tooLong, false},
		{"two overflows close", junk, [][]byte{bytes.Repeat(b("A"), 5000), b("\n"), bytes.Repeat(b("B"), 5000), b("\n")},
			tooLong + tooLong, true},
		{"stats 100 KB argument, wide", wide, [][]byte{b("/stats " + strings.Repeat("a", 100_000) + "\n")},
			"ERR unknown-argument\n", false},
		{"shutdown megabyte token, wide", wide, [][]byte{b("/shutdown " + token + "\r\n")},
			"ERR shutdown-token-invalid\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) { hSendExpect(t, tc.addr, tc.want, tc.closed, tc.chunks...) })
	}
	echotest.RoundTrip(t, echotest.Dial(t, junk, patient), "still serving\n", "still serving\n")
	echotest.RoundTrip(t, echotest.Dial(t, wide, patient), "still serving\n", "still serving\n")
	if got := echotest.Stats(t, junk).Listeners["junk"].Overflows; got != 6 {
		t.Errorf("junk overflows = %d, want 6", got)
	}
	d.ExpectNotLogged(t, token[:64], "the-right-token")
	if err := d.Stop(); err != nil {
		t.Fatalf("exit after garbage: %v", err)
	}
}

func TestHostileShutdownLockout(t *testing.T) {
	t.Parallel()
	const right = "s3cret-shutdown-token"
	tokenFile := pWriteToken(t, t.TempDir(), "shutdown.token", right+"\n", 0o600)
	d := echotest.Start(t, echotest.TCP("admin", fmt.Sprintf("token_file = %q", tokenFile)))
	admin := d.Addr("admin")
	c := echotest.Dial(t, admin, patient.WithFrom("127.0.0.1"))
	for i := range 5 {
		echotest.RoundTrip(t, c, fmt.Sprintf("/shutdown wrong-guess-%d\n", i), "ERR shutdown-token-invalid\n")
	}
	echotest.RoundTrip(t, c, "/shutdown "+right+"\n", "ERR shutdown-locked-out\n")
	echotest.RoundTrip(t, echotest.Dial(t, admin, patient.WithFrom("127.0.0.1")), "/shutdown wrong-guess-6\n", "ERR shutdown-locked-out\n")
	echotest.RoundTrip(t, c, "still echoing\n", "still echoing\n")
	if got := echotest.Stats(t, admin).Listeners["admin"].ShutdownRefused; got != 7 {
		t.Errorf("shutdown_refused = %d, want 7", got)
	}
	if _, err := d.WaitLog("msg=refused listener=admin reason=ban count=1", 5*time.Second); err != nil {
		t.Error(err)
	}
	// Another address is not locked out by the first one's failures.
	other := echotest.Dial(t, admin, patient.WithFrom("127.0.0.2"))
	echotest.RoundTrip(t, other, "/shutdown wrong-guess-7\n", "ERR shutdown-token-invalid\n")
	echotest.RoundTrip(t, other, "/shutdown "+right+"\n", "OK, shutting down\n")
	if err := d.Wait(15 * time.Second); err != nil {
		t.Fatalf("exit after /shutdown: %v", err)
	}
	d.ExpectNotLogged(t, right, "wrong-guess")
}

var hStatsLine = regexp.MustCompile(`^\d+ \d+ \d+\n$`)
var hTimeLine = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\n$`)

func TestHostileAbruptClients(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCP("abrupt")+
		echotest.TCP("probe"))
	abrupt, probe := d.Addr("abrupt"), d.Addr("probe")
	base := d.SettledUsage() // no client connected yet
	reset := func(c net.Conn) {
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	for range 50 { // RST in the middle of a line
		c := echotest.Dial(t, abrupt, patient)
		io.WriteString(c, "half a li")
		reset(c)
	}
	for range 20 { // RST with output queued for a reader that never read
		c := echotest.Dial(t, abrupt, patient.WithRcvBuf(4<<10))
		c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		c.Write(slowPayload(1, 1<<20))
		reset(c)
	}
	for range 20 { // half-close in the middle of a command: the partial line is answered, then EOF
		c := echotest.Dial(t, abrupt, patient)
		io.WriteString(c, "hello\n/st")
		io.WriteString(c, "ats")
		c.(*net.TCPConn).CloseWrite()
		echotest.ReadExactly(t, c, "hello\n")
		if got, err := io.ReadAll(c); err != nil || !hStatsLine.Match(got) {
			t.Fatalf("after half-close: %q, %v", got, err)
		}
	}
	for range 20 { // half-close, then RST before reading the reply
		c := echotest.Dial(t, abrupt, patient)
		io.WriteString(c, "/time\n/ti")
		c.(*net.TCPConn).CloseWrite()
		reset(c)
	}
	c := echotest.Dial(t, probe, patient)
	if _, err := io.WriteString(c, "/time\n"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 20)
	if _, err := io.ReadFull(c, got); err != nil || !hTimeLine.Match(got) {
		t.Fatalf("/time after abrupt clients: %q, %v", got, err)
	}
	c.Close()
	after := d.WaitFDs(base.FDs, 10*time.Second)
	end := d.Usage()
	t.Logf("before %v, after %v", base, end)
	if after != base.FDs {
		t.Errorf("daemon has %d descriptors open after the abrupt clients left, %d before", after, base.FDs)
	}
	if end.Threads > base.Threads+8 { // the runtime may add a few; one per connection would be 110 more
		t.Errorf("daemon threads grew from %d to %d", base.Threads, end.Threads)
	}
	s := echotest.Stats(t, probe)
	if s.TCPConnected != 1 || s.Listeners["abrupt"].Open != 0 {
		t.Errorf("tcp_connected = %d (want 1, the asker), abrupt open = %d (want 0)", s.TCPConnected,
			s.Listeners["abrupt"].Open)
	}
}

func TestHostileSlowReaders(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCP("sink", "max_output = 65536")+
		echotest.TCP("other"))
	sink, other := d.Addr("sink"), d.Addr("other")
	const clients, size, maxOutput = 20, 2 << 20, 65536
	payloads := make([][]byte, clients)
	conns := make([]net.Conn, clients)
	var wg sync.WaitGroup
	werrs := make(chan error, clients)
	for i := range clients {
		payloads[i] = slowPayload(i, size)
		conns[i] = echotest.Dial(t, sink, patient.WithRcvBuf(16<<10))
		conns[i].SetDeadline(time.Now().Add(90 * time.Second))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := conns[i].Write(payloads[i]); err != nil {
				werrs <- fmt.Errorf("writer %d: %w", i, err)
			}
		}()
	}
	// While nobody reads, the daemon holds at most max_output per connection; the rest waits in the kernel.
	var peak int64
	for range 10 {
		time.Sleep(200 * time.Millisecond)
		peak = max(peak, d.Usage().RSSKiB)
	}
	echotest.RoundTrip(t, echotest.Dial(t, sink, patient), "same listener\n", "same listener\n")
	echotest.RoundTrip(t, echotest.Dial(t, other, patient), "other listener\n", "other listener\n")
	s := echotest.Stats(t, other).Listeners["sink"]
	t.Logf("while stalled: peak VmRSS %d KiB, sink bytes_in %d, bytes_out %d", peak, s.BytesIn, s.BytesOut)
	limit := int64(64<<10 + clients*(maxOutput+128<<10)/1024)
	if peak > limit {
		t.Errorf("daemon VmRSS reached %d KiB with %d stalled readers, want < %d KiB", peak, clients, limit)
	}
	// Now they read: every byte comes back, in order.
	var rg sync.WaitGroup
	rerrs := make(chan error, clients)
	for i, c := range conns {
		rg.Add(1)
		go func() {
			defer rg.Done()
			got := make([]byte, size)
			if _, err := io.ReadFull(c, got); err != nil {
				rerrs <- fmt.Errorf("reader %d: %w", i, err)
			} else if !bytes.Equal(got, payloads[i]) {
				rerrs <- fmt.Errorf("reader %d: echo differs from what it sent", i)
			}
		}()
	}
	wg.Wait()
	rg.Wait()
	close(werrs)
	close(rerrs)
	for err := range werrs {
		t.Error(err)
	}
	for err := range rerrs {
		t.Error(err)
	}
}

// slowPayload is client i's stream: 1 KiB lines that name the client and the line.
func slowPayload(i, size int) []byte {
	var b bytes.Buffer
	for n := 0; b.Len() < size; n++ {
		line := fmt.Sprintf("client %02d line %06d ", i, n)
		b.WriteString(line)
		b.WriteString(strings.Repeat(string(rune('a'+(i+n)%26)), 1023-len(line)))
		b.WriteByte('\n')
	}
	return b.Bytes()[:size]
}
