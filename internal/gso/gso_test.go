package gso

import (
	"bytes"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestControlCutsARun sends a run of three datagrams of 5, 5 and 2 bytes with Control(5) to a socket that
// does not ask for UDP_GRO: it receives them as three datagrams, in order.
func TestControlCutsARun(t *testing.T) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if _, _, err := tx.WriteMsgUDP([]byte("aaaaabbbbbcc"), Control(5), nil); err != nil {
		t.Fatal(err)
	}
	if c := Control(1400); len(c) != unix.CmsgSpace(2) {
		t.Fatalf("control message of %d bytes, want %d", len(c), unix.CmsgSpace(2))
	}
	buf := make([]byte, 64)
	for _, want := range []string{"aaaaa", "bbbbb", "cc"} {
		_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := rx.Read(buf)
		if err != nil || !bytes.Equal(buf[:n], []byte(want)) {
			t.Fatalf("got %q (%v), want %q", buf[:n], err, want)
		}
	}
}
