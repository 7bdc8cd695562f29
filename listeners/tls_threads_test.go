package listeners

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tlsEchoOnce makes one TLS connection to addr, has one line echoed and closes it.
func tlsEchoOnce(addr string, roots *x509.CertPool) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "once\n"); err != nil {
		return err
	}
	got := make([]byte, len("once\n"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "once\n" {
		return fmt.Errorf("echo: %q, %v", got, err)
	}
	return nil
}

// idleThreads counts this process's threads in SCHED_IDLE.
func idleThreads(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		if attr, err := unix.SchedGetAttr(tid, 0); err == nil && attr.Policy == unix.SCHED_IDLE {
			n++
		}
	}
	return n
}

// TestHandshakesRunOnIdleThreads checks that handshakes run on SCHED_IDLE threads, and that sequential
// handshakes reuse a few threads instead of starting one each.
func TestHandshakesRunOnIdleThreads(t *testing.T) {
	lc, roots := testTLSListener(t, "tls")
	_, addrs := startLoop(t, lc)
	before := idleThreads(t)
	for range 20 {
		if err := tlsEchoOnce(addrs["tls"], roots); err != nil {
			t.Fatal(err)
		}
	}
	after := idleThreads(t)
	if after < 1 {
		t.Fatal("no thread in SCHED_IDLE after 20 handshakes: handshakes run at the loop's priority")
	}
	// a handshake may start while the thread that ran the one before still ends that connection (tls_close.go),
	// and a starved SCHED_IDLE thread may lag one more: a few threads, never one per handshake
	if after > before+4 {
		t.Errorf("%d SCHED_IDLE threads before 20 sequential handshakes, %d after: threads are not reused", before, after)
	}
}

// TestMemoryTrimAfterBurst checks that the free memory is given back once after a burst of handshakes, only
// when they have been quiet for trimQuiet, and not again without another burst.
func TestMemoryTrimAfterBurst(t *testing.T) {
	lc, roots := testTLSListener(t, "tls")
	l, addrs := startLoop(t, lc)
	var trims atomic.Int32
	trimmed := make(chan time.Time, 4)
	l.Call(func() { l.hs.trim.free = func() { trims.Add(1); trimmed <- time.Now() } })
	// handshakes makes n handshakes, then more until the time for at least keepOn has passed.
	handshakes := func(n int, keepOn time.Duration) time.Time {
		var wg sync.WaitGroup
		var count atomic.Int32
		until := time.Now().Add(keepOn)
		for range 8 {
			wg.Go(func() {
				for int(count.Add(1)) <= n || time.Now().Before(until) {
					if err := tlsEchoOnce(addrs["tls"], roots); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Now()
	}
	// a burst, then handshakes on for longer than trimQuiet: the trim waits for the quiet after them
	last := handshakes(trimAfterHandshakes, 2*trimQuiet)
	select {
	case at := <-trimmed:
		if quiet := at.Sub(last); quiet < trimQuiet-100*time.Millisecond {
			t.Errorf("trimmed %v after the last handshake, before the %v of quiet", quiet, trimQuiet)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no trim 10s after %d handshakes", trimAfterHandshakes)
	}
	handshakes(10, 0)
	time.Sleep(2 * trimQuiet)
	if n := trims.Load(); n != 1 {
		t.Errorf("%d trims, want 1: a trim needs another %d handshakes", n, trimAfterHandshakes)
	}
	// a handshake that has just started holds a trim back, although none is in flight and none was trimmed
	asked := time.Now()
	l.Call(func() {
		l.hs.trim.lastStart, l.hs.trim.trimmed = l.nowNano, false
		l.trimIfQuiet()
	})
	select {
	case at := <-trimmed:
		if waited := at.Sub(asked); waited < trimQuiet-100*time.Millisecond {
			t.Errorf("trimmed %v after a handshake started, before the %v of quiet", waited, trimQuiet)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no trim 10s after the quiet check")
	}
}
