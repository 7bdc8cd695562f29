package listeners

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
	"echogate/policy"
)

// TestLineVerbatim checks which reads the line protocol lets a connection with no state echo straight from
// the read buffer, and that it counts their lines.
func TestLineVerbatim(t *testing.T) {
	line := strings.Repeat("x", 63) + "\n"
	for _, tc := range []struct {
		name      string
		data      string
		set       func(*config.Listener)
		want      bool
		wantLines uint64
	}{
		{"one line", "hello\n", nil, true, 1},
		{"sixteen lines", strings.Repeat(line, 16), nil, true, 16},
		{"more lines than max_line, each within it", strings.Repeat(line, 200), nil, true, 200},
		{"unfinished last line", "one\ntwo", nil, false, 0},
		{"a command", "one\n/time\n", nil, false, 0},
		{"a '/' inside a line is no command", "a/b\n", nil, true, 1},
		{"a '/' with commands off", "/time\n", func(l *config.Listener) { l.Commands = false }, true, 1},
		{"a line over max_line", "abcdefgh\n", func(l *config.Listener) { l.MaxLine = 4 }, false, 0},
		{"more than max_output", strings.Repeat(line, 2), func(l *config.Listener) { l.MaxOutput = 100 }, false, 0},
		{"rate_lines set", "one\n", func(l *config.Listener) { l.RateLines, l.RateBurst = 10, 10 }, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lc := testListener("v", config.TCP)
			if tc.set != nil {
				tc.set(&lc)
			}
			c := &tcpConn{ln: &tcpListener{pol: policy.New(&lc), stats: &Counters{}}, strikes: 1}
			got := lineProtocol{}.verbatim(c, []byte(tc.data))
			if got != tc.want || c.ln.stats.Lines != tc.wantLines {
				t.Fatalf("verbatim = %v with %d lines counted, want %v with %d", got, c.ln.stats.Lines, tc.want,
					tc.wantLines)
			}
			if tc.want && c.strikes != 0 {
				t.Fatal("a verbatim read of whole lines did not clear the overflow strikes")
			}
		})
	}
}

// TestLoopEchoDirectPartialWrite sends 4 MiB to a listener with a small output queue and reads nothing for a
// while: echoes written straight from the read buffer meet a full socket, queue the rest, and every byte
// comes back in order. Once it is all back the connection holds no buffer.
func TestLoopEchoDirectPartialWrite(t *testing.T) {
	for _, mode := range []config.Mode{config.ModeLine, config.ModeRaw} {
		t.Run(string(mode), func(t *testing.T) {
			lc := testListener("direct", config.TCP)
			lc.Mode, lc.MaxOutput = mode, 4096
			l, addrs := startLoop(t, lc)
			c := dialSmallWindow(t, addrs["direct"])
			want := bytes.Repeat([]byte(strings.Repeat("d", 63)+"\n"), 4<<20/64)
			written := make(chan error, 1)
			go func() {
				_, err := c.Write(want)
				written <- err
			}()
			time.Sleep(300 * time.Millisecond) // the socket buffers fill; the loop's writes come back short
			got := make([]byte, len(want))
			if n, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read %d of %d bytes (%v), equal %v", n, len(want), err, bytes.Equal(got[:n], want[:n]))
			}
			if err := <-written; err != nil {
				t.Fatal(err)
			}
			s := l.Snapshot().Listeners["direct"]
			if s.BytesIn != uint64(len(want)) || s.BytesOut != uint64(len(want)) {
				t.Fatalf("bytes in %d, out %d, want %d each", s.BytesIn, s.BytesOut, len(want))
			}
			if mode == config.ModeLine && s.Lines != uint64(len(want)/64) {
				t.Fatalf("%d lines counted, want %d", s.Lines, len(want)/64)
			}
			var holding int
			l.Call(func() {
				l.fds.each(func(_ int, h handler) {
					if tc, ok := h.(*tcpConn); ok && tc.io != nil {
						holding++
					}
				})
			})
			if holding != 0 {
				t.Fatalf("%d connections still hold I/O state after their echo went out", holding)
			}
		})
	}
}

// dialSmallWindow connects to addr with a 16 KiB receive buffer, set before the handshake so that the window
// stays small: a client that stops reading soon makes the server's writes come back short.
func dialSmallWindow(t *testing.T, addr string) *net.TCPConn {
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<10)
		})
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c.(*net.TCPConn)
}
