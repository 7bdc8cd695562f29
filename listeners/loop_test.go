package listeners

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"echogate/config"
)

// testListener returns a listener config with the documented defaults.
func testListener(name string, proto config.Protocol) config.Listener {
	return config.Listener{
		Name: name, Protocol: proto, Address: "127.0.0.1:0", Mode: config.ModeLine,
		MaxConns: config.DefaultMaxConns, Backlog: config.DefaultBacklog, MaxLine: config.DefaultMaxLine,
		MaxDatagram: config.DefaultMaxDatagram, MaxOutput: config.DefaultMaxOutput,
		IdleTimeout: config.DefaultIdleTimeout, AdminAllow: config.DefaultAdminAllow, Commands: true,
		UDPDenySources: config.DefaultUDPDenySources, MaxUDPPeers: config.DefaultMaxUDPPeers,
	}
}

func testDaemon() config.Daemon {
	return config.Daemon{UDPPeerWindow: time.Minute, DrainTimeout: time.Second, ShutdownGrace: time.Second}
}

// startLoop runs a loop serving ls and returns it with the listeners' addresses.
func startLoop(tb testing.TB, ls ...config.Listener) (*Loop, map[string]string) {
	tb.Helper()
	return startLoopWith(tb, Options{}, testDaemon(), ls...)
}

// startLoopWith is startLoop with the loop's options and [daemon] settings.
func startLoopWith(tb testing.TB, opts Options, d config.Daemon, ls ...config.Listener) (*Loop, map[string]string) {
	tb.Helper()
	l, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := &config.Config{Daemon: d, Listeners: ls}
	plan := config.Plan(nil, cfg)
	binds, err := Prepare(plan, nil)
	if err != nil {
		tb.Fatal(err)
	}
	res := l.Apply(cfg.Daemon, plan, binds)
	if len(res.Errors) > 0 {
		tb.Fatal(res.Errors)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	tb.Cleanup(func() {
		l.Shutdown("test over")
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	addrs := map[string]string{}
	for name, ap := range res.Addrs {
		addrs[name] = ap.String()
	}
	return l, addrs
}

// dialLoop connects to addr with a deadline for the whole test; the connection is closed when it ends.
func dialLoop(t *testing.T, addr string, deadline time.Duration) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(deadline))
	return c
}

func TestLoopEchoAndReload(t *testing.T) {
	lc := testListener("diag", config.TCP)
	l, addrs := startLoop(t, lc)
	c := dialLoop(t, addrs["diag"], 5*time.Second)
	r := bufio.NewReader(c)
	io.WriteString(c, "one\ntwo\n")
	for _, want := range []string{"one\n", "two\n"} {
		if got, err := r.ReadString('\n'); got != want {
			t.Fatalf("got %q (%v), want %q", got, err, want)
		}
	}
	// Lower max_line by a reload: the open connection sees it at its next line.
	old := &config.Config{Daemon: testDaemon(), Listeners: []config.Listener{lc}}
	lc.MaxLine = 3
	next := &config.Config{Daemon: testDaemon(), Listeners: []config.Listener{lc}}
	plan := config.Plan(old, next)
	var res Result
	l.Call(func() { res = l.Apply(next.Daemon, plan, nil) })
	if res.Changed != 1 || res.Carried != 1 {
		t.Fatalf("reload result %+v, want one changed listener carrying one connection", res)
	}
	io.WriteString(c, "abcd\nabc\n")
	for _, want := range []string{"ERR too-long-line\n", "abc\n"} {
		if got, err := r.ReadString('\n'); got != want {
			t.Fatalf("got %q (%v), want %q", got, err, want)
		}
	}
	if s := l.Snapshot(); s.TCPConnected != 1 || s.Listeners["diag"].Overflows != 1 {
		t.Fatalf("snapshot %+v", s)
	}
}

// TestLoopEchoBurst sends far more than one wake-up's read budget in one go and then goes quiet. Connections
// are edge-triggered, so no new event comes for what is left: the loop must come back to it by itself.
func TestLoopEchoBurst(t *testing.T) {
	line := strings.Repeat("b", 63) + "\n"
	for _, tc := range []struct {
		name string
		mode config.Mode
		size int
	}{
		{"line mode 2 MiB", config.ModeLine, 2 << 20},
		{"raw mode 2 MiB", config.ModeRaw, 2 << 20},
		{"line mode just over the budget", config.ModeLine, readRounds*readBufSize + len(line)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lc := testListener("burst", config.TCP)
			lc.Mode = tc.mode
			_, addrs := startLoop(t, lc)
			c := dialLoop(t, addrs["burst"], 20*time.Second)
			want := strings.Repeat(line, (tc.size+len(line)-1)/len(line))
			written := make(chan error, 1)
			go func() {
				_, err := io.WriteString(c, want)
				written <- err
			}()
			got := make([]byte, len(want))
			if n, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("echoed %d of %d bytes: %v", n, len(want), err)
			}
			if err := <-written; err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Fatal("the echo differs from what was sent")
			}
		})
	}
}

// benchEcho measures one round trip of `lines` pipelined lines of size bytes through the loop.
func benchEcho(b *testing.B, lines, size int) {
	_, addrs := startLoop(b, testListener("bench", config.TCP))
	c, err := net.Dial("tcp", addrs["bench"])
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	benchRoundTrips(b, c, lines, size)
}

// benchRoundTrips sends lines lines of size bytes on c and reads their echo, b.N times.
func benchRoundTrips(b *testing.B, c net.Conn, lines, size int) {
	line := strings.Repeat("x", size-1) + "\n"
	req := []byte(strings.Repeat(line, lines))
	resp := make([]byte, len(req))
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoopEchoLine is one 64-byte line round trip: the loop must not allocate per line.
func BenchmarkLoopEchoLine(b *testing.B) { benchEcho(b, 1, 64) }

// BenchmarkLoopEchoPipelined16 is 16 lines per write, answered with one write.
func BenchmarkLoopEchoPipelined16(b *testing.B) { benchEcho(b, 16, 64) }

// BenchmarkLoopEcho4K is one 4 KiB line round trip.
func BenchmarkLoopEcho4K(b *testing.B) { benchEcho(b, 1, 4096) }

func BenchmarkFramer(b *testing.B) {
	data := []byte(strings.Repeat(strings.Repeat("y", 63)+"\n", 16))
	f := Framer{Max: 4096}
	f.Attach(make([]byte, 0, 4096))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rest := data
		for {
			ev, _, r := f.Next(rest)
			rest = r
			if ev == NeedMore {
				break
			}
		}
	}
}

// BenchmarkFramerPlainRun is the pipelined fast path: 16 plain 64-byte lines taken as one run.
func BenchmarkFramerPlainRun(b *testing.B) {
	data := []byte(strings.Repeat(strings.Repeat("y", 63)+"\n", 16))
	f := Framer{Max: config.DefaultMaxLine}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if n, lines := f.PlainRun(data, len(data), true); n != len(data) || lines != 16 {
			b.Fatalf("PlainRun = %d, %d", n, lines)
		}
	}
}

func BenchmarkParseCommand(b *testing.B) {
	line := []byte("/shutdown some-token-value\r\n")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ParseCommand(line)
	}
}
