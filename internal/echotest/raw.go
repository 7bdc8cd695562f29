package echotest

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// ForgeUDP4 sends one UDP datagram with any IPv4 source address and port (see SendForged). It skips the
// test without CAP_NET_RAW.
func ForgeUDP4(t *testing.T, src, dst netip.AddrPort, payload []byte) {
	t.Helper()
	err := SendForged(src, dst, payload)
	if errors.Is(err, unix.EPERM) {
		t.Skip("forging a source address needs CAP_NET_RAW")
	}
	if err != nil {
		t.Fatal(err)
	}
}

// SendForged sends one UDP datagram from src to dst through a raw socket (IPPROTO_RAW, which implies
// IP_HDRINCL): the kernel fills in the IP checksum and id; the UDP checksum is left 0, which IPv4 allows.
func SendForged(src, dst netip.AddrPort, payload []byte) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer func() { _ = unix.Close(fd) }()
	pkt := make([]byte, 20+8+len(payload))
	pkt[0] = 0x45 // IPv4, a 20-byte header
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	pkt[8], pkt[9] = 64, unix.IPPROTO_UDP // TTL, protocol
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(pkt[12:], s[:])
	copy(pkt[16:], d[:])
	binary.BigEndian.PutUint16(pkt[20:], src.Port())
	binary.BigEndian.PutUint16(pkt[22:], dst.Port())
	binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(payload)))
	copy(pkt[28:], payload)
	return os.NewSyscallError("sendto", unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: d}))
}
