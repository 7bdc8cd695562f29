package echotest

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
)

// FreeAddr returns a loopback address whose port was free a moment ago, for proto "tcp" or "udp": for
// configs that need a fixed port (a rename hands the socket over only when the address names a port).
func FreeAddr(t *testing.T, proto string) string {
	t.Helper()
	if proto == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().String()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// FreeTCPPort is the port of FreeAddr(t, "tcp").
func FreeTCPPort(t *testing.T) int {
	t.Helper()
	ap, err := net.ResolveTCPAddr("tcp", FreeAddr(t, "tcp"))
	if err != nil {
		t.Fatal(err)
	}
	return ap.Port
}

// ListenInode returns the socket inode of the TCP socket listening on 127.0.0.1:port, from /proc/net/tcp:
// the same inode before and after a reload means the same socket.
func ListenInode(t *testing.T, port int) string {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	for _, row := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(row)
		if len(f) >= 10 && f[1] == local && f[3] == "0A" { // 0A = LISTEN
			return f[9]
		}
	}
	t.Fatalf("nothing listens on 127.0.0.1:%d", port)
	return ""
}

// HoldTCP listens on addr for the rest of the test, so that the daemon cannot bind it, and returns the address
// it holds.
func HoldTCP(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	return closeAtEnd(t, ln, err).Addr().String()
}
