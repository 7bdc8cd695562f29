package listeners

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
	"echogate/internal/stamp"
)

// tosClient is a UDP socket on addr that sends with TOS (traffic class) 0x2a, AF11 and ECT(0), and reads the
// TOS of every datagram it receives (IP_RECVTOS, IPV6_RECVTCLASS).
func tosClient(tb testing.TB, addr string) *net.UDPConn {
	tb.Helper()
	ap := netip.MustParseAddrPort(addr)
	network, level, tos, recv := "udp4", unix.IPPROTO_IP, unix.IP_TOS, unix.IP_RECVTOS
	if ap.Addr().Is6() {
		network, level, tos, recv = "udp6", unix.IPPROTO_IPV6, unix.IPV6_TCLASS, unix.IPV6_RECVTCLASS
	}
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		tb.Skipf("no %s loopback: %v", network, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	raw, _ := c.SyscallConn()
	_ = raw.Control(func(fd uintptr) {
		if err = unix.SetsockoptInt(int(fd), level, tos, 0x2a); err == nil {
			err = unix.SetsockoptInt(int(fd), level, recv, 1)
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// tosRoundTrip sends pkt to addr and returns the reply and the TOS byte it arrived with.
func tosRoundTrip(tb testing.TB, c *net.UDPConn, addr string, pkt []byte) ([]byte, int) {
	tb.Helper()
	if _, err := c.WriteToUDPAddrPort(pkt, netip.MustParseAddrPort(addr)); err != nil {
		tb.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf, oob := make([]byte, 2048), make([]byte, 128)
	n, oobn, _, _, err := c.ReadMsgUDPAddrPort(buf, oob)
	if err != nil {
		tb.Fatal(err)
	}
	return buf[:n], receivedTOS(tb, oob[:oobn])
}

// cosPacket is a test packet, authenticated when mac is set, with a Class of Service TLV asking for dscp1
// unless dscp1 < 0, and, authenticated, an HMAC TLV that verifies unless badHMAC.
func cosPacket(seq uint32, dscp1 int, mac *stamp.MAC, badHMAC bool) []byte {
	auth := mac != nil
	pkt := make([]byte, stamp.BaseSize(auth))
	stamp.PutTest(pkt, stamp.Test{Seq: seq, Timestamp: stamp.NTP(time.Now().UnixNano())}, auth)
	if dscp1 >= 0 {
		cos := stamp.CoS(uint8(dscp1))
		pkt = stamp.AppendTLV(pkt, stamp.TypeClassOfService, cos[:])
	}
	if !auth {
		return pkt
	}
	pkt = stamp.AppendTLV(pkt, stamp.TypeHMAC, make([]byte, stamp.HMACSize))
	if tlvs := pkt[stamp.AuthSize:]; !badHMAC {
		mac.SignTLVs(pkt, tlvs, stamp.HMACOffset(tlvs))
	}
	mac.Sign(pkt)
	return pkt
}

// replyCoS reads the Class of Service TLV of a reply: DSCP1 and RP.
func replyCoS(tb testing.TB, reply []byte, auth bool) (dscp1, rp uint8) {
	tb.Helper()
	tlv, _, ok := stamp.NextTLV(reply[stamp.BaseSize(auth):])
	d1, _, _, rp, okCoS := stamp.ParseCoS(tlv.Value)
	if !ok || !okCoS || tlv.Type != stamp.TypeClassOfService {
		tb.Fatalf("no Class of Service TLV in the reply: %x", reply)
	}
	return d1, rp
}

// cosCase is one test packet and the TOS its reply must arrive with (the client sends with 0x2a).
type cosCase struct {
	name    string
	dscp1   int  // the DSCP asked for; -1 = no Class of Service TLV
	badHMAC bool // authenticated: the HMAC TLV does not verify
	tos     int  // the reply's TOS
	rp      uint8
}

// The reflector's stamp_dscp_allow is [0, 46] (and every DSCP on the "all" listener): 46 is permitted, 34
// (AF41) is not and the reply keeps the test packet's DSCP 10 (0x28, Not-ECT), a packet without the TLV
// gets the socket's TOS, 0. In that order, so that no reply's TOS is left over for the next.
var cosCases = []cosCase{
	{"permitted", 46, false, 46 << 2, 0},
	{"not permitted", 34, false, 10 << 2, 1},
	{"no class of service", -1, false, 0, 0},
	{"CS0 permitted", 0, false, 0, 0},
	{"permitted again", 46, false, 46 << 2, 0},
}

// checkCoS runs cases against the reflector at addr from a client on from: each reply's TOS, its Class of
// Service TLV's DSCP1 and RP.
func checkCoS(t *testing.T, addr, from string, mac *stamp.MAC, cases []cosCase) {
	t.Helper()
	c := tosClient(t, from)
	for i, tc := range cases {
		reply, tos := tosRoundTrip(t, c, addr, cosPacket(uint32(i), tc.dscp1, mac, tc.badHMAC))
		if tos != tc.tos {
			t.Errorf("%s: the reply arrived with TOS %#x, want %#x", tc.name, tos, tc.tos)
		}
		if tc.dscp1 < 0 {
			continue
		}
		if d1, rp := replyCoS(t, reply, mac != nil); int(d1) != tc.dscp1 || rp != tc.rp {
			t.Errorf("%s: DSCP1 %d RP %d, want %d %d", tc.name, d1, rp, tc.dscp1, tc.rp)
		}
	}
}

// TestStampClassOfService: through the loop, on IPv4 and IPv6, the reply to a test packet with a Class of
// Service TLV is sent with DSCP1 when stamp_dscp_allow permits it (RP = 0), else with the test packet's DSCP
// (RP = 1); a reply without the TLV keeps the socket's TOS. Left out, stamp_dscp_allow permits 34 too.
func TestStampClassOfService(t *testing.T) {
	some := func(name, addr string) config.Listener {
		lc := stampListener(name, false)
		lc.Address, lc.StampDSCPAllow = addr, []uint16{0, 46}
		return lc
	}
	all := stampListener("all", true)
	_, addrs := startLoop(t, some("v4", "127.0.0.1:0"), some("v6", "[::1]:0"), all)
	t.Run("ipv4", func(t *testing.T) { checkCoS(t, addrs["v4"], "127.0.0.1:0", nil, cosCases) })
	t.Run("ipv6", func(t *testing.T) { checkCoS(t, addrs["v6"], "[::1]:0", nil, cosCases) })
	t.Run("every DSCP", func(t *testing.T) {
		checkCoS(t, addrs["all"], "127.0.0.1:0", nil, []cosCase{{"AF41", 34, false, 34 << 2, 0}, {"EF", 46, false, 46 << 2, 0}})
	})
}

// In authenticated mode a Class of Service TLV is acted on only when the HMAC TLV verifies: otherwise the
// reply (still sent, with the I flag) keeps the socket's TOS and says RP = 1.
func TestStampClassOfServiceAuthenticated(t *testing.T) {
	lc := stampListener("auth", false)
	lc.StampAuth, lc.StampKey, lc.StampDSCPAllow = config.StampAuthRequired, "k3y", []uint16{0, 46}
	_, addrs := startLoop(t, lc)
	checkCoS(t, addrs["auth"], "127.0.0.1:0", stamp.NewMAC([]byte("k3y")), []cosCase{
		{"permitted", 46, false, 46 << 2, 0},
		{"not permitted", 34, false, 10 << 2, 1},
		{"HMAC TLV wrong", 46, true, 0, 1},
		{"permitted again", 46, false, 46 << 2, 0},
	})
}

// stamp_dscp_allow = [] never re-marks; a reload that permits 46 takes effect on the next packet, and the
// stateful session's sequence numbers go on (the socket and the sessions are kept).
func TestStampClassOfServiceReload(t *testing.T) {
	lc := stampListener("s", true)
	lc.StampDSCPAllow = []uint16{}
	l, addrs := startLoop(t, lc)
	c := tosClient(t, "127.0.0.1:0")
	reply, tos := tosRoundTrip(t, c, addrs["s"], cosPacket(0, 46, nil, false))
	if _, rp := replyCoS(t, reply, false); tos != 10<<2 || rp != 1 {
		t.Fatalf("stamp_dscp_allow = []: TOS %#x RP %d, want 0x28 1", tos, rp)
	}
	next := lc
	next.StampDSCPAllow = []uint16{46}
	reloadLoop(t, l, []config.Listener{lc}, []config.Listener{next})
	reply, tos = tosRoundTrip(t, c, addrs["s"], cosPacket(1, 46, nil, false))
	r, _ := stamp.ParseReply(reply, false)
	if _, rp := replyCoS(t, reply, false); tos != 46<<2 || rp != 0 || r.Seq != 1 {
		t.Fatalf("after the reload: TOS %#x RP %d reflector sequence %d, want 0xb8 0 1", tos, rp, r.Seq)
	}
}

// TestStampClassOfServiceWildcard runs the cases on sockets bound to the wildcard, in a network namespace of
// the test's own: each reply carries its IP_PKTINFO or IPV6_PKTINFO and its TOS in one control buffer. On
// the dual-stack [::] socket an IPv4 client's reply goes out with IP_TOS, which the kernel's IPv4 path reads
// (it ignores IPV6_TCLASS).
func TestStampClassOfServiceWildcard(t *testing.T) {
	inNewNetns(t, nil)
	v4, v6 := stampListener("v4", false), stampListener("v6", false)
	v4.Address, v6.Address = "0.0.0.0:0", "[::]:0"
	v4.StampDSCPAllow, v6.StampDSCPAllow = []uint16{0, 46}, []uint16{0, 46}
	_, addrs := startLoop(t, v4, v6)
	port := func(name string) string { return strconv.Itoa(int(netip.MustParseAddrPort(addrs[name]).Port())) }
	// no subtests: they would run on other threads, outside the namespace
	checkCoS(t, "127.0.0.1:"+port("v4"), "127.0.0.1:0", nil, cosCases)
	checkCoS(t, "[::1]:"+port("v6"), "[::1]:0", nil, cosCases)
	checkCoS(t, "127.0.0.1:"+port("v6"), "127.0.0.1:0", nil, cosCases)
}

// BenchmarkLoopStampUDPCoS is BenchmarkLoopStampUDP with a Class of Service TLV asking for EF, permitted:
// every reply is re-marked with its own control message, and still nothing is allocated.
func BenchmarkLoopStampUDPCoS(b *testing.B) {
	_, addrs := startLoop(b, stampListener("bench", true))
	c := stampClient(b)
	pkt, buf := cosPacket(0, 46, nil, false), make([]byte, 2048)
	stampRoundTrip(b, c, addrs["bench"], pkt, buf)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stamp.PutTest(pkt, stamp.Test{Seq: uint32(i + 1)}, false)
		stampRoundTrip(b, c, addrs["bench"], pkt, buf)
	}
}
