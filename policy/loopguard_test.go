package policy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestLoopGuard(t *testing.T) {
	peer := netip.MustParseAddrPort("192.0.2.1:5000")
	ms := int64(time.Millisecond)
	for _, tc := range []struct {
		name     string
		every    int64 // between datagrams
		n        int
		distinct bool // a different payload each time
		loop     bool // a loop: it ends at the first datagram not answered
		answered int  // how many of the n are admitted
	}{
		{"an echo loop on a LAN stops after the burst", 50_000, 1000, false, true, LoopRepeatBurst},
		{"a loop with a 100 ms round trip stops too", 100 * ms, 100, false, true, 19}, // half a token lost per trip
		{"a health checker once a second", 1000 * ms, 100, false, false, 100},
		{"a health checker twice a second", 500 * ms, 100, false, false, 100},
		{"a load generator at full speed", 1000, 100_000, true, false, 100_000},
		{"a client at 10 per second still gets 5 a second", 100 * ms, 100, false, false, 59},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewLoopGuard()
			now, got := int64(time.Hour), 0
			for i := range tc.n {
				payload := []byte("same bytes")
				if tc.distinct {
					payload = fmt.Appendf(nil, "seq %d", i)
				}
				if g.Admit(g.Key(1, peer, len(payload), payload), now) {
					got++
				} else if tc.loop {
					break
				}
				now += tc.every
			}
			if got != tc.answered {
				t.Errorf("%d of %d datagrams admitted, want %d", got, tc.n, tc.answered)
			}
		})
	}
}

func TestLoopGuardKeys(t *testing.T) {
	g := NewLoopGuard()
	base := g.Key(1, netip.MustParseAddrPort("192.0.2.1:5000"), 4, []byte("ping"))
	for _, tc := range []struct {
		name string
		key  uint64
		same bool
	}{
		{"same datagram", g.Key(1, netip.MustParseAddrPort("192.0.2.1:5000"), 4, []byte("ping")), true},
		{"mapped source", g.Key(1, netip.MustParseAddrPort("[::ffff:192.0.2.1]:5000"), 4, []byte("ping")), true},
		{"other listener", g.Key(2, netip.MustParseAddrPort("192.0.2.1:5000"), 4, []byte("ping")), false},
		{"other port", g.Key(1, netip.MustParseAddrPort("192.0.2.1:5001"), 4, []byte("ping")), false},
		{"other address", g.Key(1, netip.MustParseAddrPort("192.0.2.2:5000"), 4, []byte("ping")), false},
		{"other bytes", g.Key(1, netip.MustParseAddrPort("192.0.2.1:5000"), 4, []byte("pong")), false},
		{"other size", g.Key(1, netip.MustParseAddrPort("192.0.2.1:5000"), 9, []byte("ping")), false},
	} {
		if got := tc.key == base; got != tc.same {
			t.Errorf("%s: same key = %v, want %v", tc.name, got, tc.same)
		}
	}
}

// TestLoopGuardTableFull runs a loop while a flood of distinct datagrams churns the table: the loop's entry,
// refreshed on every round trip, is never the one evicted.
func TestLoopGuardTableFull(t *testing.T) {
	g := NewLoopGuard()
	peer := netip.MustParseAddrPort("192.0.2.1:5000")
	loop := g.Key(1, peer, 4, []byte("loop"))
	now, answered := int64(time.Hour), 0
	for i := range 10_000 {
		for j := range 8 { // 8 distinct datagrams from other peers per round trip
			other := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(j), byte(i >> 8), byte(i)}), 4000)
			g.Admit(g.Key(1, other, 4, []byte("flood")), now)
		}
		if g.Admit(loop, now) {
			answered++
		}
		now += 10_000
	}
	if answered > LoopRepeatBurst+1 {
		t.Errorf("the loop was answered %d times under a flood of distinct datagrams, want at most %d", answered,
			LoopRepeatBurst+1)
	}
}

func TestLoopGuardDoesNotAllocate(t *testing.T) {
	g := NewLoopGuard()
	src := netip.MustParseAddrPort("[::ffff:127.0.0.1]:40000")
	payload := make([]byte, 1400)
	var now int64
	if n := testing.AllocsPerRun(100, func() { now += 1000; g.Admit(g.Key(7, src, len(payload), payload), now) }); n != 0 {
		t.Errorf("Key and Admit: %v allocations per call, want 0", n)
	}
}

func BenchmarkLoopGuard(b *testing.B) {
	g := NewLoopGuard()
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	payload := make([]byte, 64)
	var now int64
	b.ReportAllocs()
	for b.Loop() {
		now += 1000
		payload[0]++
		g.Admit(g.Key(7, src, len(payload), payload), now)
	}
}
