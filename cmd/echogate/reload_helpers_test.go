package main

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// Helpers shared by the hot-reload tests.

// checkMaxLine checks on c that a line of max+1 bytes is refused and one of max bytes is echoed (in this
// order, so the connection is never left with two overflows in a row).
func checkMaxLine(t *testing.T, c net.Conn, max int) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	echotest.RoundTrip(t, c, strings.Repeat("L", max+1)+"\n", "ERR too-long-line\n")
	ok := strings.Repeat("k", max) + "\n"
	echotest.RoundTrip(t, c, ok, ok)
}

// pingers keeps TCP connections and a UDP client ping-ponging unique lines and counts round trips and errors.
type pingers struct {
	stop   chan struct{}
	halted sync.Once
	wg     sync.WaitGroup
	rounds []atomic.Int64 // per TCP connection; the last one is the UDP client
	errs   atomic.Int64
	mu     sync.Mutex
	first  []string
}

func (p *pingers) fail(format string, args ...any) {
	p.errs.Add(1)
	p.mu.Lock()
	if len(p.first) < 5 {
		p.first = append(p.first, fmt.Sprintf(format, args...))
	}
	p.mu.Unlock()
}

// halt stops every pinger and waits for them; it may be called more than once.
func (p *pingers) halt() {
	p.halted.Do(func() { close(p.stop) })
	p.wg.Wait()
}

func (p *pingers) pause(id int) bool {
	select {
	case <-p.stop:
		return false
	case <-time.After(time.Duration(40+id%25) * time.Millisecond):
		return true
	}
}

func (p *pingers) tcp(id int, c net.Conn) {
	defer p.wg.Done()
	pad := strings.Repeat("abcdefghij", 3)
	got := make([]byte, 64)
	for seq := 0; p.pause(id); seq++ {
		line := fmt.Sprintf("conn %03d seq %06d %s\n", id, seq, pad[:seq%31])
		c.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := io.WriteString(c, line); err != nil {
			p.fail("conn %d write: %v", id, err)
			return
		}
		if _, err := io.ReadFull(c, got[:len(line)]); err != nil || string(got[:len(line)]) != line {
			p.fail("conn %d: sent %q, got %q, %v", id, line, got[:len(line)], err)
			return
		}
		p.rounds[id].Add(1)
	}
}

func (p *pingers) udp(id int, c net.Conn) {
	defer p.wg.Done()
	got := make([]byte, 128)
	for seq := 0; p.pause(id); seq++ {
		msg := fmt.Sprintf("datagram %06d\n", seq)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, msg); err != nil {
			p.fail("udp write: %v", err)
			return
		}
		n, err := c.Read(got)
		if err != nil || string(got[:n]) != msg {
			p.fail("udp: sent %q, got %q, %v", msg, got[:n], err)
			return
		}
		p.rounds[id].Add(1)
	}
}

// awaitProgress waits until every pinger has finished a round trip after this call (no speed is asserted:
// the deadline is generous).
func (p *pingers) awaitProgress(t *testing.T) {
	t.Helper()
	base := make([]int64, len(p.rounds))
	for i := range p.rounds {
		base[i] = p.rounds[i].Load()
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := range p.rounds {
		for p.rounds[i].Load() <= base[i] && p.errs.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("pinger %d made no round trip in 20s", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// itoa is strconv.Itoa, short for building configs.
func itoa(n int) string { return strconv.Itoa(n) }
