package listeners

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"echogate/config"
)

// BenchmarkLoopEchoUDP is one 64-byte datagram round trip, each with a sequence number as a load generator
// sends them: the loop, its source rules and its loop guard must not allocate per datagram.
func BenchmarkLoopEchoUDP(b *testing.B) {
	_, addrs := startLoop(b, testListener("bench", config.UDP))
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	to := netip.MustParseAddrPort(addrs["bench"])
	req, resp := make([]byte, 64), make([]byte, 128)
	roundTrip := func(seq uint64) {
		binary.BigEndian.PutUint64(req, seq)
		if _, err := c.WriteToUDPAddrPort(req, to); err != nil {
			b.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, _, err := c.ReadFromUDPAddrPort(resp); err != nil || n != len(req) {
			b.Fatalf("reply of %d bytes: %v", n, err)
		}
	}
	roundTrip(0) // the loop makes its datagram buffers on the first
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		roundTrip(uint64(i + 1))
	}
}
