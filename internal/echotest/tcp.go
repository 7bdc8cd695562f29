package echotest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// DialOptions adjust how Dial connects.
type DialOptions struct {
	From     string        // the local IP to connect from ("" for any), such as 127.0.0.2
	RcvBuf   int           // SO_RCVBUF set before the handshake (0 keeps the default)
	Deadline time.Duration // on every later operation (0 for 10 s)
	Sockopts []Sockopt     // set before the handshake
}

// Dial connects to addr over TCP within 5 s, puts a deadline on the connection and closes it when the test
// ends.
func Dial(t *testing.T, addr string, o DialOptions) net.Conn {
	t.Helper()
	c, err := DialErr(addr, o)
	return closeAtEnd(t, c, err)
}

// closeAtEnd fails the test on err, or else returns c, which it closes when the test ends.
func closeAtEnd[C io.Closer](t *testing.T, c C, err error) C {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// DialErr is Dial for a goroutine that reports its own errors: it returns the error instead of failing a
// test, and the caller closes the connection.
func DialErr(addr string, o DialOptions) (net.Conn, error) {
	dl := net.Dialer{Timeout: 5 * time.Second}
	if o.From != "" {
		dl.LocalAddr = &net.TCPAddr{IP: net.ParseIP(o.From)}
	}
	opts := o.Sockopts
	if o.RcvBuf > 0 {
		opts = append(opts[:len(opts):len(opts)], Sockopt{syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.RcvBuf})
	}
	if len(opts) > 0 {
		dl.Control = func(_, _ string, rc syscall.RawConn) error { return control(rc, opts) }
	}
	c, err := dl.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if o.Deadline == 0 {
		o.Deadline = 10 * time.Second
	}
	_ = c.SetDeadline(time.Now().Add(o.Deadline))
	return c, nil
}

// DialTCP connects to addr with a 10 s deadline on every later operation.
func DialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	return Dial(t, addr, DialOptions{})
}

// DialFrom connects to addr from the local IP from (such as 127.0.0.2), with a 10 s deadline.
func DialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	return Dial(t, addr, DialOptions{From: from})
}

// ReadExactly reads len(want) bytes from c and compares them.
func ReadExactly(t *testing.T, c net.Conn, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading %q: got %q: %v", want, got[:bytes.IndexByte(append(got, 0), 0)], err)
	}
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// RoundTrip sends line on c and expects want back.
func RoundTrip(t *testing.T, c net.Conn, line, want string) {
	t.Helper()
	if _, err := io.WriteString(c, line); err != nil {
		t.Fatal(err)
	}
	ReadExactly(t, c, want)
}

// TCPEcho opens a fresh connection to addr, checks that line comes back and closes it.
func TCPEcho(t *testing.T, addr, line string) {
	t.Helper()
	c, err := DialErr(addr, DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	RoundTrip(t, c, line, line)
}

// ReadLine reads one '\n'-terminated reply from r.
func ReadLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	s, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a line: got %q: %v", s, err)
	}
	return s
}

// ReadToEOF reads until the daemon closes c (10 s at most) and returns what came. A reset is an error.
func ReadToEOF(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading to EOF: got %q: %v", b, err)
	}
	return string(b)
}

// ExpectEOF checks that the daemon closed c without sending anything more.
func ExpectEOF(t *testing.T, c net.Conn) {
	t.Helper()
	var b [64]byte
	n, err := c.Read(b[:])
	if n != 0 || err != io.EOF {
		t.Fatalf("want EOF, got %q, %v", b[:n], err)
	}
}

// ExpectTCPRefused checks that nothing listens on addr any more.
func ExpectTCPRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		_ = c.Close()
		t.Fatalf("%s still accepts connections", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
}

// ExpectRefused is ExpectTCPRefused or ExpectUDPRefused, by proto ("tcp" or "udp").
func ExpectRefused(t *testing.T, proto, addr string) {
	t.Helper()
	if proto == "udp" {
		ExpectUDPRefused(t, addr)
	} else {
		ExpectTCPRefused(t, addr)
	}
}

// WithFrom is o connecting from the local IP from.
func (o DialOptions) WithFrom(from string) DialOptions { o.From = from; return o }

// WithRcvBuf is o with SO_RCVBUF n.
func (o DialOptions) WithRcvBuf(n int) DialOptions { o.RcvBuf = n; return o }

// ExpectClosed checks that the daemon closes c (10 s at most) without sending a byte: EOF, or a reset when c
// had sent data the daemon never read.
func ExpectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if len(b) > 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("want the connection closed with nothing sent, got %q, %v", b, err)
	}
}
