package listeners

import (
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGSORunsKeepTheirTOS queues six same-size replies to one peer with TOS 0xb8, 0xb8, 0x28, none, 0xb8,
// 0xb8 and sends them as the loop does: a reply with another TOS (or none) is never in the same UDP_SEGMENT
// run, and ends the run so the peer's order is kept: runs {0,1} and {4,5}, 2 and 3 alone. The peer receives
// every datagram, in order, with its own TOS (the socket's, 0, for the one without).
func TestGSORunsKeepTheirTOS(t *testing.T) {
	for _, tc := range []gsoCase{
		{"ipv4", "127.0.0.1:0", "127.0.0.1", "127.0.0.1:0", false},
		{"ipv6", "[::1]:0", "::1", "[::1]:0", false},
	} {
		t.Run(tc.name, func(t *testing.T) { checkTOSRuns(t, tc) })
	}
}

// TestGSORunsKeepTheirTOSWildcard is the same on wildcard sockets, in a network namespace of the test's own:
// a run's message carries the pktinfo, the TOS and UDP_SEGMENT; on the dual-stack [::] socket an IPv4
// peer's replies carry IPV6_PKTINFO (v4-mapped) and IP_TOS.
func TestGSORunsKeepTheirTOSWildcard(t *testing.T) {
	inNewNetns(t, nil)
	for _, tc := range []gsoCase{ // no subtests: they would run on other threads, outside the namespace
		{"ipv4", "0.0.0.0:0", "127.0.0.1", "127.0.0.1:0", true},
		{"ipv6", "[::]:0", "::1", "[::1]:0", true},
		{"ipv4 on [::]", "[::]:0", "127.0.0.1", "127.0.0.1:0", true},
	} {
		checkTOSRuns(t, tc)
	}
}

// checkTOSRuns sends the six datagrams to a server socket made as tc says and checks the replies.
func checkTOSRuns(t *testing.T, tc gsoCase) {
	tos := []int{0xb8, 0xb8, 0x28, -1, 0xb8, 0xb8}
	srv := rawUDP(t, netip.MustParseAddrPort(tc.bind), netip.AddrPort{}, tc.pktinfo)
	to := netip.AddrPortFrom(netip.MustParseAddr(tc.to), localPort(t, srv))
	client := rawUDP(t, netip.MustParseAddrPort(tc.from), to, false)
	level, opt := unix.IPPROTO_IP, unix.IP_RECVTOS
	if to.Addr().Is6() {
		level, opt = unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS
	}
	if err := unix.SetsockoptInt(client, level, opt, 1); err != nil {
		t.Fatal(err)
	}
	for i := range tos {
		if _, err := unix.Write(client, gsoPayload(0, i, 64)); err != nil {
			t.Fatal(err)
		}
	}
	b := newUDPBatch()
	n, err := b.receive(srv, udpBatchSize, maxDatagram, tc.pktinfo)
	for errors.Is(err, unix.EINTR) {
		n, err = b.receive(srv, udpBatchSize, maxDatagram, tc.pktinfo)
	}
	if err != nil || n != len(tos) {
		t.Fatalf("%s: received %d datagrams in one batch (%v), want %d", tc.name, n, err, len(tos))
	}
	for i := range n {
		var ctl []byte
		if tc.pktinfo {
			pktinfo, _ := b.control(i)
			if ctl, _ = replySource(pktinfo); len(ctl) == 0 {
				t.Fatalf("%s: datagram %d: no destination address", tc.name, i)
			}
		}
		if tos[i] >= 0 {
			ctl = b.withTOS(i, ctl, uint8(tos[i]))
		}
		b.queueReply(i, i, b.bufs[i][:b.hdrs[i].Len], ctl)
	}
	if m := b.gso.group(b, n); m != 4 {
		t.Errorf("%s: %d replies grouped into %d messages, want 4", tc.name, n, m)
	}
	u := &udpEndpoint{boundSocket: boundSocket{fd: srv}, stats: &Counters{}}
	if sent, _ := b.sendReplies(u, n); sent != n || u.stats.UDPSegmented != 4 {
		t.Errorf("%s: sent %d of %d replies, %d as segments (want 4)", tc.name, sent, n, u.stats.UDPSegmented)
	}
	buf, oob := make([]byte, 2048), make([]byte, 64)
	for i, want := range tos {
		k, oobn, _, _, err := unix.Recvmsg(client, buf, oob, 0)
		for errors.Is(err, unix.EINTR) { // SO_RCVTIMEO: a signal is not restarted
			k, oobn, _, _, err = unix.Recvmsg(client, buf, oob, 0)
		}
		if err != nil || string(buf[:k]) != string(gsoPayload(0, i, 64)) {
			t.Fatalf("%s: datagram %d: %.20q (%v), want %.20q", tc.name, i, buf[:max(k, 0)], err, gsoPayload(0, i, 64))
		}
		got := receivedTOS(t, oob[:oobn])
		if want < 0 {
			want = 0
		}
		if got != want {
			t.Errorf("%s: datagram %d arrived with TOS %#x, want %#x", tc.name, i, got, want)
		}
	}
}

// receivedTOS reads the TOS or traffic class from a received datagram's control messages.
func receivedTOS(tb testing.TB, oob []byte) int {
	tb.Helper()
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		tb.Fatal(err)
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TOS && len(m.Data) >= 1:
			return int(m.Data[0])
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_TCLASS:
			return int(cmsgInt(m.Data))
		}
	}
	tb.Fatalf("a datagram without its TOS: %x", oob)
	return -1
}
