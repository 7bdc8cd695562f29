package policy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// event is one step of a lockout scenario: a failure (fail) or a check from addr at time at,
// expecting blocked.
type event struct {
	at      time.Duration
	addr    string
	fail    bool
	blocked bool
}

func TestLockout(t *testing.T) {
	const v4, other = "192.0.2.1", "192.0.2.2"
	for _, tc := range []struct {
		name   string
		events []event
	}{
		{"blocked after max failures", []event{
			{0, v4, true, false}, {1, v4, true, false}, {2, v4, false, false},
			{3, v4, true, true}, {4, v4, false, true}, {5, other, false, false},
		}},
		{"failures outside window do not add up", []event{
			{0, v4, true, false}, {30 * time.Second, v4, true, false},
			{61 * time.Second, v4, true, false}, {62 * time.Second, v4, false, false},
			{63 * time.Second, v4, true, false}, {64 * time.Second, v4, true, true},
		}},
		{"ban ends", []event{
			{0, v4, true, false}, {0, v4, true, false}, {0, v4, true, true},
			{5*time.Minute - 1, v4, false, true}, {5 * time.Minute, v4, false, false},
		}},
		{"failure during ban does not extend it", []event{
			{0, v4, true, false}, {0, v4, true, false}, {0, v4, true, true},
			{4 * time.Minute, v4, true, true}, {5 * time.Minute, v4, false, false},
		}},
		{"count starts afresh after a ban", []event{
			{0, v4, true, false}, {0, v4, true, false}, {0, v4, true, true},
			{5 * time.Minute, v4, true, false}, {5 * time.Minute, v4, true, false},
			{5 * time.Minute, v4, true, true},
		}},
		{"mapped is the same address", []event{
			{0, v4, true, false}, {0, "::ffff:" + v4, true, false}, {0, v4, true, true},
			{1, "::ffff:" + v4, false, true},
		}},
		{"ipv6 tracked by /64", []event{
			{0, "2001:db8:1:2::1", true, false}, {0, "2001:db8:1:2::2", true, false},
			{0, "2001:db8:1:2:ffff::9", true, true}, {1, "2001:db8:1:2::abcd", false, true},
			{1, "2001:db8:1:3::1", false, false},
		}},
		{"zone stripped", []event{
			{0, "fe80::1%eth0", true, false}, {0, "fe80::2%eth1", true, false},
			{0, "fe80::3", true, true},
		}},
		{"invalid address always blocked", []event{
			{0, "", false, true}, {0, "", true, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLockout(3, time.Minute, 5*time.Minute, 16)
			for i, e := range tc.events {
				a := addr(t, e.addr)
				var got bool
				if e.fail {
					got = l.Fail(a, int64(e.at))
				} else {
					got = l.Blocked(a, int64(e.at))
				}
				if got != e.blocked {
					t.Errorf("event %d (%+v): blocked = %v, want %v", i, e, got, e.blocked)
				}
			}
		})
	}
}

func TestLockoutDefaults(t *testing.T) {
	l := NewLockout(0, 0, -1, 0)
	if l.maxFailures != DefaultShutdownFailures || l.window != int64(DefaultShutdownWindow) ||
		l.ban != int64(DefaultShutdownBan) || l.maxEntries != DefaultLockoutEntries {
		t.Errorf("defaults: %+v", l)
	}
	a := netip.MustParseAddr("192.0.2.1")
	for i := range DefaultShutdownFailures {
		if got, want := l.Fail(a, 0), i == DefaultShutdownFailures-1; got != want {
			t.Errorf("failure %d: blocked = %v, want %v", i+1, got, want)
		}
	}
}

// ip4 returns the i-th address of 10.0.0.0/8.
func ip4(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

func TestLockoutBound(t *testing.T) {
	const max = 8
	l := NewLockout(2, time.Minute, time.Hour, max)
	for i := range 10 * max {
		l.Fail(ip4(i), int64(i))
		if l.Len() > max {
			t.Fatalf("after %d addresses: %d tracked, bound %d", i+1, l.Len(), max)
		}
	}
	if l.Len() != max {
		t.Errorf("tracked %d, want %d", l.Len(), max)
	}
	// The newest addresses are the ones kept.
	for i := 9 * max; i < 10*max; i++ {
		if _, ok := l.entries[ip4(i)]; !ok {
			t.Errorf("%v was evicted, want it kept", ip4(i))
		}
	}
}

func TestLockoutEvictsExpiredFirst(t *testing.T) {
	window := int64(time.Minute)
	l := NewLockout(2, time.Minute, time.Hour, 4)
	banned := netip.MustParseAddr("192.0.2.66")
	l.Fail(banned, 0)
	l.Fail(banned, 0) // banned for an hour: the oldest entry, but not expired
	for i := range 3 {
		l.Fail(ip4(i), 1) // windows end at window+1
	}
	l.Fail(ip4(100), window+1) // full: the three expired entries go, the ban stays
	if !l.Blocked(banned, window+1) {
		t.Error("a banned address was evicted while expired entries were there")
	}
	if l.Len() != 2 {
		t.Errorf("tracked %d after evicting the expired, want 2", l.Len())
	}
	for i := range 3 {
		l.Fail(ip4(200+i), window+2)
	}
	// Full with nothing expired: the least recently failing (the banned one, at 0) goes.
	if l.Len() != 4 || l.Blocked(banned, window+2) {
		t.Errorf("tracked %d, banned still blocked %v; want 4 and the oldest evicted",
			l.Len(), l.Blocked(banned, window+2))
	}
}

func TestLockoutFloodKeepsBound(t *testing.T) {
	const max = 64
	l := NewLockout(DefaultShutdownFailures, DefaultShutdownWindow, DefaultShutdownBan, max)
	for i := range 5000 {
		a := netip.MustParseAddr(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff))
		l.Fail(a, int64(i)*int64(time.Millisecond))
	}
	if l.Len() > max {
		t.Errorf("tracked %d, bound %d", l.Len(), max)
	}
}
