package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// protoConfig serves one listener of each TCP flavour the protocol tests use.
var protoConfig = echotest.DaemonTOML(`shutdown_grace = "1s"`) +
	echotest.TCP("line", "max_line = 64") +
	echotest.TCP("nocmd", "commands = false") +
	echotest.TCP("raw", `mode = "raw"`) +
	echotest.TCP("deny", `allow = ["127.0.0.1/32"]`)

// pListeners are the listeners of protoConfig.
var pListeners = []string{"line", "nocmd", "raw", "deny"}

// startProto runs a daemon on protoConfig and returns it with the address of each listener.
func startProto(t *testing.T) (*echotest.Daemon, map[string]string) {
	t.Helper()
	d := echotest.Start(t, protoConfig)
	addrs := make(map[string]string)
	for _, name := range pListeners {
		addrs[name] = d.Addr(name)
	}
	return d, addrs
}

// pTimeReply is the exact form of a /time answer.
var pTimeReply = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\n$`)

// pCheckTimeReply checks that got is a /time answer for a UTC time within a minute of now.
func pCheckTimeReply(t *testing.T, got string) {
	t.Helper()
	if !pTimeReply.MatchString(got) {
		t.Fatalf("/time reply %q does not match %s", got, pTimeReply)
	}
	at, err := time.ParseInLocation("2006-01-02 15:04:05\n", got, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(at); d < -time.Minute || d > time.Minute {
		t.Fatalf("/time reply %q is %s away from now (%s UTC)", got, d, time.Now().UTC().Format(time.DateTime))
	}
}

func TestLineEcho(t *testing.T) {
	t.Parallel()
	_, addrs := startProto(t)
	max := strings.Repeat("m", 64)
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"plain", []string{"hello\n"}, "hello\n"},
		{"crlf kept", []string{"a\r\nb\n"}, "a\r\nb\n"},
		{"empty line", []string{"\n"}, "\n"},
		{"empty crlf line", []string{"\r\n"}, "\r\n"},
		{"nul and other bytes", []string{"\x00\x01\x7f\x80\xfe\xff\t \x00\n"}, "\x00\x01\x7f\x80\xfe\xff\t \x00\n"},
		{"lone cr inside", []string{"a\rb\n"}, "a\rb\n"},
		{"utf-8", []string{"héllo ☃\n"}, "héllo ☃\n"},
		{"slash not first", []string{" /time\n"}, " /time\n"},
		{"split across writes", []string{"hel", "lo wo", "rld", "\n"}, "hello world\n"},
		{"crlf split between cr and lf", []string{"ab\r", "\n"}, "ab\r\n"},
		{"many lines in one write", []string{"1\n22\n\n333\r\n4444\n"}, "1\n22\n\n333\r\n4444\n"},
		{"exactly max_line", []string{max + "\n"}, max + "\n"},
		{"max_line counts the cr", []string{max[1:] + "\r\n"}, max[1:] + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := echotest.DialTCP(t, addrs["line"])
			for i, w := range tc.writes {
				if i > 0 {
					time.Sleep(20 * time.Millisecond) // make separate reads likely; the result must not depend on it
				}
				if _, err := io.WriteString(c, w); err != nil {
					t.Fatal(err)
				}
			}
			echotest.ReadExactly(t, c, tc.want)
			echotest.RoundTrip(t, c, "after\n", "after\n")
		})
	}
}

// TestLineOneWrite checks that each echoed line arrives whole in one read (it goes out in one write) and that
// 100 sequential round trips complete.
func TestLineOneWrite(t *testing.T) {
	t.Parallel()
	_, addrs := startProto(t)
	c := echotest.DialTCP(t, addrs["line"])
	c.SetDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	for i := 0; i < 100; i++ {
		line := fmt.Sprintf("line %03d %s\r\n", i, strings.Repeat("z", i%40))
		if _, err := io.WriteString(c, line); err != nil {
			t.Fatal(err)
		}
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("round trip %d: %v", i, err)
		}
		if got := string(buf[:n]); got != line {
			t.Fatalf("round trip %d: one read gave %q, want the whole line %q", i, got, line)
		}
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	_, addrs := startProto(t)
	for _, tc := range []struct {
		name, listener, send string
		want                 string // "" = a /time reply
	}{
		{"time", "line", "/time\n", ""},
		{"time with crlf", "line", "/time\r\n", ""},
		{"unknown", "line", "/nope\n", "ERR unknown-command\n"},
		{"unknown with crlf", "line", "/nope\r\n", "ERR unknown-command\n"},
		{"case-sensitive", "line", "/TIME\n", "ERR unknown-command\n"},
		{"bare slash", "line", "/\n", "ERR unknown-command\n"},
		{"name runs to white space", "line", "/timex\n", "ERR unknown-command\n"},
		{"commands off: time echoed", "nocmd", "/time\n", "/time\n"},
		{"commands off: stats echoed", "nocmd", "/stats json\r\n", "/stats json\r\n"},
		{"commands off: shutdown echoed", "nocmd", "/shutdown x\n", "/shutdown x\n"},
		{"raw: time is data", "raw", "/time\n", "/time\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := echotest.DialTCP(t, addrs[tc.listener])
			r := bufio.NewReader(c)
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			got := echotest.ReadLine(t, r)
			if tc.want == "" {
				pCheckTimeReply(t, got)
			} else if got != tc.want {
				t.Fatalf("%q: got %q, want %q", tc.send, got, tc.want)
			}
			// an error never closes the connection
			io.WriteString(c, "still here\n")
			if got := echotest.ReadLine(t, r); got != "still here\n" {
				t.Fatalf("after %q: got %q", tc.send, got)
			}
		})
	}
}

func TestOverflowResync(t *testing.T) {
	t.Parallel()
	_, addrs := startProto(t) // max_line = 64
	const tooLong = "ERR too-long-line\n"
	x65, y70 := strings.Repeat("x", 65), strings.Repeat("y", 70)
	type step struct{ send, want string }
	for _, tc := range []struct {
		name  string
		steps []step
		eof   bool // the daemon must close after the last step
	}{
		{"exactly max_line", []step{{strings.Repeat("x", 64) + "\n", strings.Repeat("x", 64) + "\n"}}, false},
		{"error as soon as byte max_line+1 arrives", []step{{x65, tooLong}, {"rest dropped\nok\n", "ok\n"}}, false},
		{"cr counts", []step{{strings.Repeat("x", 64) + "\r\n", tooLong}, {"ok\n", "ok\n"}}, false},
		{"overlong line split across writes", []step{{x65[:40], ""}, {x65[40:] + "\n", tooLong}, {"ok\n", "ok\n"}}, false},
		{"good line between two overflows", []step{{x65 + "\nok\n" + y70 + "\n", tooLong + "ok\n" + tooLong}, {"z\n", "z\n"}}, false},
		{"two overflows in a row close", []step{{x65 + "\n" + y70 + "\n", tooLong + tooLong}}, true},
		{"two overflows in separate writes close", []step{{x65 + "\n", tooLong}, {y70, tooLong}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := echotest.DialTCP(t, addrs["line"])
			for _, s := range tc.steps {
				if _, err := io.WriteString(c, s.send); err != nil {
					t.Fatal(err)
				}
				if s.want != "" {
					echotest.ReadExactly(t, c, s.want)
				}
			}
			if tc.eof {
				if rest := echotest.ReadToEOF(t, c); rest != "" {
					t.Fatalf("after the second overflow got %q, want EOF", rest)
				}
				return
			}
			echotest.RoundTrip(t, c, "alive\n", "alive\n")
		})
	}
}

func TestHalfClose(t *testing.T) {
	t.Parallel()
	_, addrs := startProto(t)
	var many strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&many, "line %05d of many, all must come back\n", i)
	}
	for _, tc := range []struct{ name, listener, send, want string }{
		{"lines", "line", "a\nb\r\n\nc\n", "a\nb\r\n\nc\n"},
		{"final unterminated line", "line", "a\ntail", "a\ntail"},
		{"only an unterminated line", "line", "tail", "tail"},
		{"command then lines", "line", "/nope\nx\n", "ERR unknown-command\nx\n"},
		{"many lines", "line", many.String(), many.String()},
		{"raw", "raw", "raw \x00 bytes\nno newline", "raw \x00 bytes\nno newline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := echotest.DialTCP(t, addrs[tc.listener])
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			if err := c.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if got := echotest.ReadToEOF(t, c); got != tc.want {
				t.Fatalf("got %d bytes %.80q, want %d bytes %.80q", len(got), got, len(tc.want), tc.want)
			}
		})
	}
}

func TestRawMode(t *testing.T) {
	t.Parallel()
	_, addrs := startProto(t)
	c := echotest.DialTCP(t, addrs["raw"])
	for _, s := range []string{"/time\n", "/shutdown x\n", "no newline", "\x00\xff\r\n", strings.Repeat("0123456789", 20000)} {
		go io.WriteString(c, s) // 200 kB may not fit the socket buffers before it is read back
		echotest.ReadExactly(t, c, s)
	}
}

// TestSlowReader writes about 4 MB of lines without reading any echo, checks that another client is served
// meanwhile, then reads everything back: nothing may be dropped or reordered (backpressure, not loss).
func TestSlowReader(t *testing.T) {
	t.Parallel()
	_, addrs := startProto(t)
	var want strings.Builder
	for i := 0; want.Len() < 4<<20; i++ {
		fmt.Fprintf(&want, "%08d %s\n", i, strings.Repeat("s", 54)) // 64 bytes, 63 before '\n'
	}
	c := echotest.DialTCP(t, addrs["line"])
	c.SetDeadline(time.Now().Add(30 * time.Second))
	written := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, want.String())
		written <- err
	}()
	// The writer soon blocks: the daemon stops reading once the echoes it cannot send pile up.
	time.Sleep(300 * time.Millisecond)
	other := echotest.DialTCP(t, addrs["line"])
	for i := 0; i < 10; i++ {
		echotest.RoundTrip(t, other, fmt.Sprintf("other %d\n", i), fmt.Sprintf("other %d\n", i))
	}
	got := make([]byte, want.Len())
	if n, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read back %d of %d bytes: %v", n, want.Len(), err)
	}
	if err := <-written; err != nil {
		t.Fatalf("writing: %v", err)
	}
	if string(got) != want.String() {
		for i := range got {
			if got[i] != want.String()[i] {
				t.Fatalf("echo differs at byte %d (line %d): got %.70q", i, i/64, got[i/64*64:])
			}
		}
	}
	echotest.RoundTrip(t, c, "done\n", "done\n")
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCP("idle", `idle_timeout = "1s"`))
	silent := echotest.DialTCP(t, d.Addr("idle"))
	active := echotest.DialTCP(t, d.Addr("idle"))
	active.SetDeadline(time.Now().Add(30 * time.Second))
	closed := make(chan string, 1)
	go func() {
		silent.SetReadDeadline(time.Now().Add(8 * time.Second))
		b, err := io.ReadAll(silent)
		if err != nil {
			closed <- fmt.Sprintf("error %v after %q", err, b)
			return
		}
		closed <- string(b)
	}()
	for i := 0; ; i++ {
		select {
		case got := <-closed:
			if got != "" {
				t.Fatalf("silent connection: got %s, want EOF without a byte", got)
			}
			// the active connection outlives the silent one by more than the timeout
			for j := 0; j < 6; j++ {
				time.Sleep(250 * time.Millisecond)
				echotest.RoundTrip(t, active, fmt.Sprintf("after %d\n", j), fmt.Sprintf("after %d\n", j))
			}
			if _, err := d.WaitLog("idle timeout", 5*time.Second); err != nil {
				t.Error(err)
			}
			return
		case <-time.After(250 * time.Millisecond):
			echotest.RoundTrip(t, active, fmt.Sprintf("keepalive %d\n", i), fmt.Sprintf("keepalive %d\n", i))
		}
	}
}
