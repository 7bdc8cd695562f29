package main

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
	"echogate/listeners"
)

// slowBytes writes one byte of b every period to c, over and over, until the write fails, stop is closed or
// limit bytes are written. It returns how many it wrote, on the channel it gives back.
func slowBytes(c net.Conn, b byte, period time.Duration, limit int, stop <-chan struct{}) <-chan int {
	done := make(chan int, 1)
	go func() {
		n := 0
		defer func() { done <- n }()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for n < limit {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			n++
		}
	}()
	return done
}

// expectLineTimeout reads what the daemon sends c up to EOF and checks that it is exactly the line-timeout
// reply, then stops the writer and returns how many bytes it had sent.
func expectLineTimeout(t *testing.T, c net.Conn, stop chan struct{}, sent <-chan int) int {
	t.Helper()
	got, err := io.ReadAll(c)
	close(stop)
	n := <-sent
	if err != nil || string(got) != "ERR line-timeout\n" {
		t.Fatalf("got %q, then %v; want \"ERR line-timeout\\n\" and EOF", got, err)
	}
	return n
}

// TestLineTimeout: a line that takes longer than line_timeout from its first byte to its '\n' is answered with
// "ERR line-timeout" and the connection is closed, however often its bytes come; whole lines sent slowly are
// never cut; "0s" turns the limit off, and raw mode has no lines to time.
func TestLineTimeout(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCPListener("slow", "127.0.0.1:0", `line_timeout = "1s"`)+
		echotest.TCPListener("off", "127.0.0.1:0", `line_timeout = "0s"`)+
		echotest.TCPListener("raw", "127.0.0.1:0", `mode = "raw"`, `line_timeout = "1s"`))

	t.Run("a byte every 100 ms", func(t *testing.T) {
		t.Parallel()
		c := echotest.DialTCP(t, d.Addr("slow"))
		stop := make(chan struct{})
		n := expectLineTimeout(t, c, stop, slowBytes(c, 'x', 100*time.Millisecond, 50, stop))
		if n >= 50 {
			t.Fatalf("the client sent %d bytes (5 s) of one line before it was cut; line_timeout is 1s", n)
		}
		s := echotest.WaitStats(t, d.Addr("slow"), "line_timeouts = 1", func(s listeners.Snapshot) bool {
			return s.Listeners["slow"].LineTimeouts >= 1
		})
		if got := s.Listeners["slow"].LineTimeouts; got != 1 {
			t.Fatalf("line_timeouts = %d, want 1", got)
		}
	})

	t.Run("a whole line every second", func(t *testing.T) {
		t.Parallel()
		c := echotest.DialTCP(t, d.Addr("slow"))
		for i := range 4 {
			if i > 0 {
				time.Sleep(time.Second)
			}
			echotest.RoundTrip(t, c, "line "+itoa(i)+"\n", "line "+itoa(i)+"\n")
		}
	})

	t.Run(`"0s" turns it off`, func(t *testing.T) {
		t.Parallel()
		c := echotest.DialTCP(t, d.Addr("off"))
		stop := make(chan struct{})
		n := <-slowBytes(c, 'x', 100*time.Millisecond, 25, stop) // 2.5 s for one line
		echotest.RoundTrip(t, c, "\n", strings.Repeat("x", n)+"\n")
	})

	t.Run("raw mode has no lines", func(t *testing.T) {
		t.Parallel()
		c := echotest.DialTCP(t, d.Addr("raw"))
		for range 25 { // 2.5 s without a '\n'
			echotest.RoundTrip(t, c, "r", "r")
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// A reload that changes line_timeout applies to open connections at their next byte: a line begun while the
// limit was off is cut once it is on, timed from its first byte.
func TestLineTimeoutReload(t *testing.T) {
	t.Parallel()
	base := echotest.TCPListener("ctl", "127.0.0.1:0")
	d := echotest.Start(t, base+echotest.TCPListener("slow", "127.0.0.1:0", `line_timeout = "0s"`))
	c := echotest.DialTCP(t, d.Addr("slow"))
	stop := make(chan struct{})
	sent := slowBytes(c, 'y', 100*time.Millisecond, 80, stop)
	time.Sleep(1500 * time.Millisecond) // the line is 1.5 s old: too old for the new limit
	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, base+echotest.TCPListener("slow", "127.0.0.1:0", `line_timeout = "1s"`))
	d.AwaitReload(t, mark)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if n := expectLineTimeout(t, c, stop, sent); n >= 80 {
		t.Fatalf("the line went on for %d bytes (8 s) after the reload", n)
	}
	if got := echotest.Stats(t, d.Addr("ctl")).Listeners["slow"].LineTimeouts; got != 1 {
		t.Fatalf("line_timeouts = %d, want 1", got)
	}
}

// Slow clients cannot keep every slot of a listener: with max_conns = 4, four clients sending one byte every
// 200 ms make a fifth client "server busy", until line_timeout cuts them and the fifth is served.
func TestLineTimeoutFreesSlots(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCPListener("ctl", "127.0.0.1:0")+
		echotest.TCPListener("slow", "127.0.0.1:0", "max_conns = 4", `line_timeout = "1s"`))
	addr := d.Addr("slow")
	type slow struct {
		c    net.Conn
		stop chan struct{}
		sent <-chan int
	}
	var clients []slow
	for range 4 {
		c := echotest.DialTCP(t, addr)
		stop := make(chan struct{})
		clients = append(clients, slow{c, stop, slowBytes(c, 'z', 200*time.Millisecond, 25, stop)})
	}
	echotest.WaitStats(t, d.Addr("ctl"), "four open connections", func(s listeners.Snapshot) bool {
		return s.Listeners["slow"].Open == 4
	})
	busy := echotest.DialTCP(t, addr)
	if got, err := bufio.NewReader(busy).ReadString('\n'); got != "server busy\n" {
		t.Fatalf("a fifth client got %q (%v), want \"server busy\\n\"", got, err)
	}
	for _, s := range clients {
		expectLineTimeout(t, s.c, s.stop, s.sent)
	}
	echotest.WaitStats(t, d.Addr("ctl"), "the slow clients gone", func(s listeners.Snapshot) bool {
		return s.Listeners["slow"].Open == 0 && s.Listeners["slow"].LineTimeouts == 4
	})
	echotest.TCPEcho(t, addr, "served\n")
}
