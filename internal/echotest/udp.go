package echotest

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"
)

// ListenUDP opens a UDP socket on local, an IP ("127.0.0.2", any port) or an IP and port ("127.0.0.1:0"),
// closed when the test ends.
func ListenUDP(t *testing.T, local string) *net.UDPConn {
	t.Helper()
	u, err := ListenUDPErr(t, local)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// ListenUDPErr is ListenUDP returning the error, for a test that expects a bind to fail or skips.
func ListenUDPErr(t *testing.T, local string) (*net.UDPConn, error) {
	t.Helper()
	ap, err := netip.ParseAddrPort(local)
	if err != nil {
		ip, perr := netip.ParseAddr(local)
		if perr != nil {
			return nil, err
		}
		ap = netip.AddrPortFrom(ip, 0)
	}
	network := "udp"
	if ap.Addr().Is4() {
		network = "udp4"
	}
	u, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = u.Close() })
	return u, nil
}

// SendUDP sends msg from u to addr.
func SendUDP(t *testing.T, u *net.UDPConn, addr, msg string) {
	t.Helper()
	if _, err := u.WriteToUDPAddrPort([]byte(msg), netip.MustParseAddrPort(addr)); err != nil {
		t.Fatal(err)
	}
}

// RecvUDP reads one datagram within d; ok is false on a timeout.
func RecvUDP(t *testing.T, u *net.UDPConn, d time.Duration) (string, bool) {
	t.Helper()
	buf := make([]byte, 65536)
	_ = u.SetReadDeadline(time.Now().Add(d))
	n, err := u.Read(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), true
}

// ExpectUDPEcho sends msg from u to addr and expects want as the next datagram (5 s at most).
func ExpectUDPEcho(t *testing.T, u *net.UDPConn, addr, msg, want string) {
	t.Helper()
	SendUDP(t, u, addr, msg)
	got, ok := RecvUDP(t, u, 5*time.Second)
	if !ok || got != want {
		t.Fatalf("UDP %q to %s: got %q (received %v), want %q", msg, addr, got, ok, want)
	}
}

// ReadUDPFrom reads one datagram within timeout and checks that it came from the address from (the
// listener's own socket).
func ReadUDPFrom(t *testing.T, c *net.UDPConn, from *net.UDPAddr, timeout time.Duration) string {
	t.Helper()
	buf := make([]byte, 70000)
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	n, src, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("waiting for a datagram from %s: %v", from, err)
	}
	if want := from.AddrPort(); src.Addr().Unmap() != want.Addr().Unmap() || src.Port() != want.Port() {
		t.Fatalf("reply came from %s, want the listener's socket %s", src, from)
	}
	return string(buf[:n])
}

// AskUDP sends payload from c to srv and returns the reply, which must come from srv (10 s at most).
func AskUDP(t *testing.T, c *net.UDPConn, srv, payload string) string {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp", srv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteToUDP([]byte(payload), to); err != nil {
		t.Fatal(err)
	}
	return ReadUDPFrom(t, c, to, 10*time.Second)
}

// UDPExchange sends payload to addr from a fresh connected socket and returns the reply (10 s at most).
func UDPExchange(t *testing.T, addr, payload string) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(payload)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("udp %s: %v", addr, err)
	}
	return string(buf[:n])
}

// UDPEcho sends one datagram to addr and expects it back unchanged.
func UDPEcho(t *testing.T, addr, payload string) {
	t.Helper()
	if got := UDPExchange(t, addr, payload); got != payload {
		t.Fatalf("udp %s: got %q, want %q", addr, got, payload)
	}
}

// ExpectUDPRefused checks that a datagram to addr gets ICMP port unreachable (ECONNREFUSED on a connected
// socket), never an echo.
func ExpectUDPRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	for try := 0; try < 3; try++ {
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("anyone?\n")); err != nil && errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		n, err := c.Read(buf)
		switch {
		case err == nil:
			t.Fatalf("%s/udp still echoes: %q", addr, buf[:n])
		case errors.Is(err, syscall.ECONNREFUSED):
			return
		}
	}
	t.Fatalf("%s/udp: no port-unreachable after 3 datagrams", addr)
}
