package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tcpServer serves each connection with handle on 127.0.0.1:0 until the test ends.
func tcpServer(t *testing.T, handle func(n int, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); handle(n, c) }()
		}
	}()
	return ln.Addr().String()
}

// echo copies everything back; corruptAt > 0 flips the byte at that stream offset.
func echo(corruptAt int) func(int, net.Conn) {
	return func(_ int, c net.Conn) {
		buf := make([]byte, 32<<10)
		off := 0
		for {
			n, err := c.Read(buf)
			if corruptAt > 0 && off <= corruptAt && corruptAt < off+n {
				buf[corruptAt-off] ^= 0x20
			}
			off += n
			if _, werr := c.Write(buf[:n]); werr != nil || err != nil {
				return
			}
		}
	}
}

// udpServer echoes datagrams on 127.0.0.1:0, skipping those for which drop returns true.
func udpServer(t *testing.T, drop func(n int) bool) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for n := 0; ; n++ {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if !drop(n) {
				pc.WriteTo(buf[:k], from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// runArgs runs echoload in-process and decodes its JSON line.
func runArgs(t *testing.T, ctx context.Context, args ...string) (result, int) {
	t.Helper()
	args = append([]string{"-json"}, args...)
	o, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags(%q): %v", args, err)
	}
	var out, errOut bytes.Buffer
	code := run(ctx, o, &out, &errOut)
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("output %q is not one JSON line: %v", out.String(), err)
	}
	t.Logf("%s%s", errOut.String(), out.String())
	return r, code
}

func TestLoad(t *testing.T) {
	good := tcpServer(t, echo(0))
	good2 := tcpServer(t, echo(0))
	bad := tcpServer(t, echo(1000))
	udp := udpServer(t, func(int) bool { return false })
	lossy := udpServer(t, func(n int) bool { return n%5 == 4 })
	closed := closedPort(t)
	short := []string{"-duration", "300ms", "-timeout", "300ms"}
	for _, tc := range []struct {
		name      string
		args      []string
		wantCode  int
		wantErr   bool   // errors > 0
		wantRT    uint64 // exact round trips, when not 0
		wantConns int    // established
	}{
		{"tcp ping-pong", []string{"-addr", good, "-conns", "4"}, 0, false, 0, 4},
		{"tcp pipelined", []string{"-addr", good, "-conns", "2", "-pipeline", "16", "-warmup", "50ms"}, 0, false, 0, 2},
		{"tcp big batch", []string{"-addr", good, "-size", "4096", "-pipeline", "32"}, 0, false, 0, 1},
		{"tcp two servers", []string{"-addr", good + "," + good2, "-conns", "4"}, 0, false, 0, 4},
		{"tcp sliding window", []string{"-addr", good, "-conns", "3", "-window", "16"}, 0, false, 0, 3},
		{"tcp window of 4 KiB lines", []string{"-addr", good, "-size", "4096", "-window", "8"}, 0, false, 0, 1},
		{"tcp window corrupted", []string{"-addr", bad, "-window", "16"}, 1, true, 0, 1},
		{"tcp open loop", []string{"-addr", good, "-conns", "4", "-rate", "2000"}, 0, false, 0, 4},
		{"tcp open loop corrupted", []string{"-addr", bad, "-rate", "5000"}, 1, true, 0, 1},
		{"tcp request cap", []string{"-addr", good, "-conns", "3", "-pipeline", "10", "-requests", "100", "-duration", "10s"}, 0, false, 100, 3},
		{"tcp corrupted echo", []string{"-addr", bad}, 1, true, 0, 1},
		{"tcp corrupted allowed", []string{"-addr", bad, "-allow-errors"}, 0, true, 0, 1},
		{"tcp refused", []string{"-addr", closed, "-conns", "2", "-allow-errors"}, 0, true, 0, 0},
		{"udp", []string{"-addr", udp, "-proto", "udp", "-conns", "3", "-pipeline", "4"}, 0, false, 0, 3},
		{"udp loss", []string{"-addr", lossy, "-proto", "udp", "-conns", "2", "-pipeline", "3"}, 1, true, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r, code := runArgs(t, context.Background(), append(tc.args, short...)...)
			if code != tc.wantCode || (r.Errors > 0) != tc.wantErr || r.Established != tc.wantConns {
				t.Fatalf("code %d errors %d established %d; want code %d errors>0 %v established %d",
					code, r.Errors, r.Established, tc.wantCode, tc.wantErr, tc.wantConns)
			}
			if tc.wantRT != 0 && r.RoundTrips != tc.wantRT {
				t.Fatalf("round_trips = %d, want %d", r.RoundTrips, tc.wantRT)
			}
			if !tc.wantErr && (r.RoundTrips == 0 || r.RPS <= 0 || r.P50us <= 0 || r.P999us < r.P50us) {
				t.Fatalf("implausible figures: %+v", r)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("run took %v", d)
			}
		})
	}
}

func TestIdle(t *testing.T) {
	var accepted atomic.Int32
	addr := tcpServer(t, func(n int, c net.Conn) {
		accepted.Add(1)
		if n%2 == 1 {
			c.Write([]byte("server busy\n"))
			c.Close()
			return
		}
		io.Copy(io.Discard, c)
	})
	r, code := runArgs(t, context.Background(), "-addr", addr, "-idle", "20", "-duration", "1500ms")
	if code != 1 || r.Established != 20 || r.Lost != 10 || r.Errors != 10 {
		t.Fatalf("code %d, %+v; want code 1, established 20, lost 10, errors 10", code, r)
	}
}

func TestIdleStopsOnSignal(t *testing.T) {
	addr := tcpServer(t, func(_ int, c net.Conn) { io.Copy(io.Discard, c) })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, code := runArgs(t, ctx, "-addr", addr, "-idle", "50", "-duration", "30s")
	if code != 0 || r.Established != 50 || r.Lost != 0 {
		t.Fatalf("code %d, %+v; want code 0, established 50, lost 0", code, r)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("idle hold ignored the cancel: %v", d)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{}, true},
		{[]string{"-addr", "a:1, b:2", "-conns", "2"}, true},
		{[]string{"-proto", "sctp"}, false},
		{[]string{"-conns", "0"}, false},
		{[]string{"-size", "0"}, false},
		{[]string{"-proto", "udp", "-size", "20"}, false},
		{[]string{"-proto", "udp", "-size", "70000"}, false},
		{[]string{"-idle", "10", "-proto", "udp"}, false},
		{[]string{"-idle", "10", "-conns", "0"}, true},
		{[]string{"-duration", "0s"}, false},
		{[]string{"-size", "1048576", "-pipeline", "65"}, false},
		{[]string{"extra"}, false},
		{[]string{"-window", "16"}, true},
		{[]string{"-window", "16", "-pipeline", "4"}, false},
		{[]string{"-window", "16", "-proto", "udp"}, false},
		{[]string{"-window", "1024", "-size", "1024"}, false},
		{[]string{"-rate", "1000", "-conns", "10"}, true},
		{[]string{"-rate", "1000", "-requests", "10"}, false},
		{[]string{"-rate", "-1"}, false},
		{[]string{"-count", "3", "-interval", "10ms"}, true},
		{[]string{"-count", "3", "-proto", "udp"}, true},
		{[]string{"-count", "3", "-interval", "0s"}, false},
		{[]string{"-count", "3", "-size", "10"}, false},
		{[]string{"-count", "3", "-window", "2"}, false},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("parseFlags(%q) error %v, want ok=%v", tc.args, err, tc.ok)
		}
	}
}
