package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"

	"golang.org/x/sys/unix"
)

// Hostile-client tests: each attacks the real binary on loopback, then checks that well-behaved clients on the
// same listener and on others are still served byte for byte.

// patient is how the hostile tests dial: a 20 s deadline, for clients that wait out a cap or a slow reader.
var patient = echotest.DialOptions{Deadline: 20 * time.Second}

// hExpectBusy checks that c, which sent nothing, is turned away with "server busy\n" and closed.
func hExpectBusy(t *testing.T, c net.Conn) {
	t.Helper()
	echotest.ReadExactly(t, c, "server busy\n")
	echotest.ExpectEOF(t, c)
}

// hReply reads what the daemon sends for line (longer than "server busy\n"): it reports served when the line
// came back, and not served when the daemon said "server busy" and closed. Anything else is an error.
func hReply(c net.Conn, line string) (served bool, err error) {
	const busy = "server busy\n"
	buf := make([]byte, 0, len(line))
	tmp := make([]byte, len(line))
	for {
		n, rerr := c.Read(tmp[:cap(buf)-len(buf)])
		buf = append(buf, tmp[:n]...)
		switch {
		case string(buf) == line:
			return true, nil
		case string(buf) == busy:
			return false, nil
		case !strings.HasPrefix(line, string(buf)) && !strings.HasPrefix(busy, string(buf)):
			return false, fmt.Errorf("unexpected reply %q", buf)
		case rerr != nil:
			return false, fmt.Errorf("after %q: %w", buf, rerr)
		}
	}
}

// hServedEventually dials addr from src until a client is served again (a cap is lifted once clients leave).
func hServedEventually(t *testing.T, src, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		c := echotest.Dial(t, addr, patient.WithFrom(src))
		line := fmt.Sprintf("are you back? attempt %d\n", i)
		if _, err := io.WriteString(c, line); err != nil {
			t.Fatal(err)
		}
		served, err := hReply(c, line)
		c.Close()
		if served {
			return
		}
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never served a client from %s again", addr, src)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestHostileSlowloris(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCP("slow", `idle_timeout = "1s"`)+
		echotest.TCP("capped", "max_conns_per_ip = 5"))
	slow, capped := d.Addr("slow"), d.Addr("capped")
	// Half the connections send nothing, half trickle one byte per 100 ms. idle_timeout counts from the last
	// byte read (any byte, not a complete line), so only the silent ones are idle.
	var silent, trickle []net.Conn
	for i := range 200 {
		c := echotest.Dial(t, slow, patient)
		if i%2 == 0 {
			silent = append(silent, c)
		} else {
			trickle = append(trickle, c)
		}
	}
	start := time.Now()
	sent := make([]int, len(trickle))
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- nil
				return
			case <-tick.C:
			}
			for i, c := range trickle {
				if _, err := c.Write([]byte{'x'}); err != nil {
					done <- fmt.Errorf("trickling conn %d: %w", i, err)
					return
				}
				sent[i]++
			}
		}
	}()
	for _, c := range silent {
		echotest.ExpectEOF(t, c) // within the 20 s deadline of the dial
	}
	echotest.RoundTrip(t, echotest.Dial(t, slow, patient), "still here\n", "still here\n")
	time.Sleep(time.Until(start.Add(3 * time.Second))) // three idle timeouts at least
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, c := range trickle {
		echotest.RoundTrip(t, c, "\n", strings.Repeat("x", sent[i])+"\n")
	}
	s := echotest.Stats(t, slow)
	if got := s.Listeners["slow"].IdleClosed; got < uint64(len(silent)) {
		t.Errorf("idle_closed = %d, want >= %d", got, len(silent))
	}

	// max_conns_per_ip = 5: the sixth connection from 127.0.0.1 is busy, 127.0.0.2 is not affected.
	var five []net.Conn
	for i := range 5 {
		c := echotest.Dial(t, capped, patient.WithFrom("127.0.0.1"))
		echotest.RoundTrip(t, c, fmt.Sprintf("conn %d\n", i), fmt.Sprintf("conn %d\n", i))
		five = append(five, c)
	}
	hExpectBusy(t, echotest.Dial(t, capped, patient.WithFrom("127.0.0.1")))
	echotest.RoundTrip(t, echotest.Dial(t, capped, patient.WithFrom("127.0.0.2")), "other address\n", "other address\n")
	if got := echotest.Stats(t, slow).Listeners["capped"].RefusedPerIP; got != 1 {
		t.Errorf("capped refused_per_ip = %d, want 1", got)
	}
	five[0].Close()
	hServedEventually(t, "127.0.0.1", capped)
}

func TestHostileFloodMaxConns(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCP("small", "max_conns = 10")+
		echotest.TCP("other"))
	small, other := d.Addr("small"), d.Addr("other")
	var held []net.Conn
	for i := range 10 {
		c := echotest.Dial(t, small, patient)
		echotest.RoundTrip(t, c, fmt.Sprintf("held %d\n", i), fmt.Sprintf("held %d\n", i))
		held = append(held, c)
	}
	for range 50 {
		hExpectBusy(t, echotest.Dial(t, small, patient))
	}
	echotest.RoundTrip(t, echotest.Dial(t, other, patient), "other listener\n", "other listener\n")
	if got := echotest.Stats(t, other).Listeners["small"].RefusedBusy; got != 50 {
		t.Errorf("refused_busy = %d, want 50", got)
	}
	for _, c := range held {
		c.Close()
	}
	hServedEventually(t, "", small)
}

func TestHostileFloodFDLimit(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCP("flood", "backlog = 512"))
	flood := d.Addr("flood")
	// The daemon raised its soft limit to the hard one at start; lower both now, so that about 50 of the 200
	// connections below fit and the rest wait in the backlog (512, so no SYN is dropped).
	pid := d.Pid()
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 64, Max: 64}, nil); err != nil {
		t.Skipf("cannot lower the daemon's RLIMIT_NOFILE: %v", err)
	}
	type result struct {
		i      int
		served bool
		err    error
	}
	results := make(chan result, 200)
	conns := make([]net.Conn, 200)
	lines := make([]string, 200)
	before := d.Usage()
	for i := range conns {
		conns[i] = echotest.Dial(t, flood, patient)
		conns[i].SetDeadline(time.Now().Add(60 * time.Second))
		lines[i] = fmt.Sprintf("flood client %03d says hello\n", i)
		if _, err := io.WriteString(conns[i], lines[i]); err != nil {
			t.Fatal(err)
		}
		go func() {
			served, err := hReply(conns[i], lines[i])
			results <- result{i, served, err}
		}()
	}
	time.Sleep(2 * time.Second)
	after := d.Usage()
	t.Logf("flood window: before %v, after %v", before, after)
	if cpu := after.CPU - before.CPU; cpu >= time.Second {
		t.Errorf("daemon used %v of CPU in a 2 s flood at its descriptor limit: spinning", cpu)
	}
	// Every client gets its echo or "server busy": a served client leaves, which frees a descriptor for the
	// ones still waiting in the backlog.
	served, busy, reset := 0, 0, 0
	for range conns {
		r := <-results
		conns[r.i].Close()
		switch {
		case errors.Is(r.err, syscall.ECONNRESET):
			reset++ // turned away before it could read "server busy"
		case r.err != nil:
			t.Errorf("client %d: %v", r.i, r.err)
		case r.served:
			served++
		default:
			busy++
		}
	}
	t.Logf("served %d, turned away %d, reset %d", served, busy, reset)
	hServedEventually(t, "", flood)
	s := echotest.Stats(t, flood).Listeners["flood"]
	if s.AcceptErrors == 0 {
		t.Errorf("accept_errors = 0: the descriptor limit was never reached")
	}
	if s.RefusedBusy != uint64(busy+reset) {
		t.Errorf("refused_busy = %d, but %d clients were turned away", s.RefusedBusy, busy+reset)
	}
}
