package listeners

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
	"echogate/internal/stamp"
)

// stampListener is a UDP listener in mode "stamp".
func stampListener(name string, stateful bool) config.Listener {
	lc := testListener(name, config.UDP)
	lc.Mode, lc.StampAuth, lc.StampTimestamp, lc.StampStateful = config.ModeStamp, config.StampAuthOff, config.StampNTP, stateful
	lc.StampDSCPAllow = config.DefaultStampDSCPAllow
	return lc
}

// stampClient is a UDP socket that sends with TTL 17 and TOS 0x2a (AF11, ECT(0)).
func stampClient(tb testing.TB) *net.UDPConn {
	tb.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	raw, _ := c.SyscallConn()
	_ = raw.Control(func(fd uintptr) {
		if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, 17); err != nil {
			tb.Fatal(err)
		}
		if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS, 0x2a); err != nil {
			tb.Fatal(err)
		}
	})
	return c
}

// countersOn reads the counters of listener name on the loop.
func countersOn(l *Loop, name string) (n Counters) {
	l.Call(func() { n = *l.stats.counters(name) })
	return n
}

// stampRoundTrip sends pkt to addr and returns the reply, read into buf.
func stampRoundTrip(tb testing.TB, c *net.UDPConn, addr string, pkt, buf []byte) []byte {
	tb.Helper()
	if _, err := c.WriteToUDPAddrPort(pkt, netip.MustParseAddrPort(addr)); err != nil {
		tb.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		tb.Fatal(err)
	}
	return buf[:n]
}

// A test packet with TLVs through the loop: the reply has its size, the sender's fields, the TTL and TOS it
// arrived with, T2 from the kernel no later than T3, and, stateful, the reflector's own sequence numbers.
func TestStampReflector(t *testing.T) {
	l, addrs := startLoop(t, stampListener("stamp", true))
	c := stampClient(t)
	cos := stamp.CoS(46)
	for i := range 3 {
		pkt := make([]byte, stamp.UnauthSize)
		sent := time.Now().UnixNano()
		stamp.PutTest(pkt, stamp.Test{Seq: uint32(100 + i), Timestamp: stamp.NTP(sent), ErrEst: 1, SSID: 9}, false)
		pkt = stamp.AppendTLV(pkt, stamp.TypeClassOfService, cos[:])
		pkt = stamp.AppendTLV(pkt, stamp.TypeDirectMeasurement, make([]byte, 12))
		pkt = stamp.AppendTLV(pkt, 0x99, []byte{1, 2})
		got := stampRoundTrip(t, c, addrs["stamp"], pkt, make([]byte, 2048))
		back := time.Now().UnixNano()
		if len(got) != len(pkt) {
			t.Fatalf("reply of %d octets to %d", len(got), len(pkt))
		}
		r, _ := stamp.ParseReply(got, false)
		t2, t3 := stamp.UnixNano(r.RxTimestamp, false), stamp.UnixNano(r.Timestamp, false)
		switch {
		case r.Seq != uint32(i) || r.SenderSeq != uint32(100+i) || r.SSID != 9 || r.SenderErrEst != 1:
			t.Fatalf("reply %+v", r)
		case r.SenderTTL != 17:
			t.Fatalf("Ses-Sender TTL %d, want 17", r.SenderTTL)
		case t2 < sent-int64(time.Millisecond) || t2 > t3 || t3 > back+int64(time.Millisecond):
			t.Fatalf("sent %d, T2 %d, T3 %d, back %d", sent, t2, t3, back)
		}
		tlv, rest, _ := stamp.NextTLV(got[stamp.UnauthSize:])
		if _, d2, ecn, _, ok := stamp.ParseCoS(tlv.Value); !ok || d2 != 10 || ecn != 2 {
			t.Fatalf("Class of Service %x", tlv.Value)
		}
		dm, rest, _ := stamp.NextTLV(rest)
		if rx := uint32(dm.Value[4])<<24 | uint32(dm.Value[5])<<16 | uint32(dm.Value[6])<<8 | uint32(dm.Value[7]); rx != uint32(i+1) {
			t.Fatalf("Direct Measurement RxC %d, want %d", rx, i+1)
		}
		if u, _, _ := stamp.NextTLV(rest); u.Flags != stamp.FlagU {
			t.Fatalf("unknown TLV flags %#x", u.Flags)
		}
	}
	n := countersOn(l, "stamp")
	if n.StampReflected != 3 || n.StampMalformed != 0 {
		t.Fatalf("counters %+v", n)
	}
}

// BenchmarkLoopStampUDP is one 44-octet STAMP test packet reflected: the reflector must not allocate.
func BenchmarkLoopStampUDP(b *testing.B) {
	_, addrs := startLoop(b, stampListener("bench", true))
	c := stampClient(b)
	pkt, buf := make([]byte, stamp.UnauthSize), make([]byte, 2048)
	stampRoundTrip(b, c, addrs["bench"], pkt, buf) // the first makes the session and the buffers
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stamp.PutTest(pkt, stamp.Test{Seq: uint32(i + 1)}, false)
		stampRoundTrip(b, c, addrs["bench"], pkt, buf)
	}
}

// Over IPv6 the Session-Sender TTL is the hop limit (IPV6_RECVHOPLIMIT) and Class of Service reports the
// traffic class (IPV6_RECVTCLASS).
func TestStampReflectorIPv6(t *testing.T) {
	lc := stampListener("stamp6", false)
	lc.Address = "[::1]:0"
	_, addrs := startLoop(t, lc)
	c, err := net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("[::1]:0")))
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer c.Close()
	raw, _ := c.SyscallConn()
	_ = raw.Control(func(fd uintptr) {
		err = errors.Join(unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, 17),
			unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 0x2a))
	})
	if err != nil {
		t.Fatal(err)
	}
	cos := stamp.CoS(0)
	pkt := stamp.AppendTLV(make([]byte, stamp.UnauthSize), stamp.TypeClassOfService, cos[:])
	got := stampRoundTrip(t, c, addrs["stamp6"], pkt, make([]byte, 2048))
	r, _ := stamp.ParseReply(got, false)
	tlv, _, _ := stamp.NextTLV(got[stamp.UnauthSize:])
	_, d2, ecn, _, _ := stamp.ParseCoS(tlv.Value)
	if r.SenderTTL != 17 || d2 != 10 || ecn != 2 {
		t.Fatalf("hop limit %d, DSCP %d, ECN %d; want 17, 10, 2", r.SenderTTL, d2, ecn)
	}
}

// Authenticated mode: a test packet whose base HMAC is good but whose HMAC TLV is not is answered with the
// I flag on that TLV, and the reply's HMAC and HMAC TLV are signed again (over the reply's own fields).
func TestStampReflectorTLVIntegrity(t *testing.T) {
	lc := stampListener("auth", false)
	lc.StampAuth, lc.StampKey = config.StampAuthRequired, "k3y"
	l, addrs := startLoop(t, lc)
	mac := stamp.NewMAC([]byte("k3y"))
	pkt := make([]byte, stamp.AuthSize)
	stamp.PutTest(pkt, stamp.Test{Seq: 77}, true)
	pkt = stamp.AppendTLV(pkt, stamp.TypeExtraPadding, make([]byte, 4))
	pkt = stamp.AppendTLV(pkt, stamp.TypeHMAC, make([]byte, stamp.HMACSize)) // left zero: wrong
	mac.Sign(pkt)
	got := stampRoundTrip(t, stampClient(t), addrs["auth"], pkt, make([]byte, 2048))
	tlvs := got[stamp.AuthSize:]
	at := stamp.HMACOffset(tlvs)
	switch {
	case len(got) != len(pkt) || !mac.Verify(got):
		t.Fatalf("reply %x", got)
	case at < 0 || tlvs[at-stamp.TLVHeader] != stamp.FlagI:
		t.Fatalf("HMAC TLV not flagged I: %x", tlvs)
	case !mac.VerifyTLVs(got, tlvs, at):
		t.Fatal("the reply's HMAC TLV does not verify")
	}
	n := countersOn(l, "auth")
	if n.StampReflected != 1 || n.StampAuthFailed != 1 {
		t.Fatalf("counters %+v", n)
	}
}

// A reflected packet sent back to the reflector, as another reflector would (a loop a spoofed source can
// start), is dropped and counted as a loop, while test packets go on being answered.
func TestStampReflectorLoop(t *testing.T) {
	l, addrs := startLoop(t, stampListener("stamp", false))
	c, buf := stampClient(t), make([]byte, 2048)
	first := make([]byte, stamp.UnauthSize)
	stamp.PutTest(first, stamp.Test{Seq: 1, Timestamp: stamp.NTP(time.Now().UnixNano())}, false)
	reply := append([]byte(nil), stampRoundTrip(t, c, addrs["stamp"], first, buf)...)
	if _, err := c.WriteToUDPAddrPort(reply, netip.MustParseAddrPort(addrs["stamp"])); err != nil {
		t.Fatal(err)
	}
	pkt := make([]byte, stamp.UnauthSize)
	stamp.PutTest(pkt, stamp.Test{Seq: 9}, false)
	if r, _ := stamp.ParseReply(stampRoundTrip(t, c, addrs["stamp"], pkt, buf), false); r.SenderSeq != 9 {
		t.Fatalf("the next reply is to sequence number %d, want 9: the reflected packet was answered", r.SenderSeq)
	}
	n := countersOn(l, "stamp")
	if n.UDPLoopDropped != 1 || n.StampReflected != 2 {
		t.Fatalf("counters %+v", n)
	}
}
