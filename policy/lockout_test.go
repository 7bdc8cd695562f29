package policy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// event is one step of a lockout scenario: a failure (fail) or a check from addr at time at,
// expecting blocked, and for a failure, whether it starts a lock of every address.
type event struct {
	at        time.Duration
	addr      string
	fail      bool
	blocked   bool
	lockedAll bool
}

func TestLockout(t *testing.T) {
	const v4, other = "192.0.2.1", "192.0.2.2"
	for _, tc := range []struct {
		name   string
		events []event
	}{
		{"blocked after max failures", []event{
			{0, v4, true, false, false}, {1, v4, true, false, false}, {2, v4, false, false, false},
			{3, v4, true, true, false}, {4, v4, false, true, false}, {5, other, false, false, false},
		}},
		{"failures outside window do not add up", []event{
			{0, v4, true, false, false}, {30 * time.Second, v4, true, false, false},
			{61 * time.Second, v4, true, false, false}, {62 * time.Second, v4, false, false, false},
			{63 * time.Second, v4, true, false, false}, {64 * time.Second, v4, true, true, false},
		}},
		{"ban ends", []event{
			{0, v4, true, false, false}, {0, v4, true, false, false}, {0, v4, true, true, false},
			{5*time.Minute - 1, v4, false, true, false}, {5 * time.Minute, v4, false, false, false},
		}},
		{"failure during ban does not extend it", []event{
			{0, v4, true, false, false}, {0, v4, true, false, false}, {0, v4, true, true, false},
			{4 * time.Minute, v4, true, true, false}, {5 * time.Minute, v4, false, false, false},
		}},
		{"count starts afresh after a ban", []event{
			{0, v4, true, false, false}, {0, v4, true, false, false}, {0, v4, true, true, false},
			{5 * time.Minute, v4, true, false, false}, {5 * time.Minute, v4, true, false, false},
			{5 * time.Minute, v4, true, true, false},
		}},
		{"mapped is the same address", []event{
			{0, v4, true, false, false}, {0, "::ffff:" + v4, true, false, false}, {0, v4, true, true, false},
			{1, "::ffff:" + v4, false, true, false},
		}},
		{"ipv6 tracked by /64", []event{
			{0, "2001:db8:1:2::1", true, false, false}, {0, "2001:db8:1:2::2", true, false, false},
			{0, "2001:db8:1:2:ffff::9", true, true, false}, {1, "2001:db8:1:2::abcd", false, true, false},
			{1, "2001:db8:1:3::1", false, false, false},
		}},
		{"zone stripped", []event{
			{0, "fe80::1%eth0", true, false, false}, {0, "fe80::2%eth1", true, false, false},
			{0, "fe80::3", true, true, false},
		}},
		{"invalid address always blocked", []event{
			{0, "", false, true, false}, {0, "", true, true, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			play(t, NewLockout(3, time.Minute, 5*time.Minute, 16), tc.events)
		})
	}
}

// play runs a scenario on l. A failure must not start a daemon-wide lock unless the event says so.
func play(t *testing.T, l *Lockout, events []event) {
	t.Helper()
	for i, e := range events {
		a := addr(t, e.addr)
		var got, all bool
		if e.fail {
			got, all = l.Fail(a, int64(e.at))
		} else {
			got = l.Blocked(a, int64(e.at))
		}
		if got != e.blocked || all != e.lockedAll {
			t.Errorf("event %d (%+v): blocked = %v, lockedAll = %v", i, e, got, all)
		}
	}
}

func TestLockoutDefaults(t *testing.T) {
	l := NewLockout(0, 0, -1, 0)
	if l.maxFailures != DefaultShutdownFailures || l.window != int64(DefaultShutdownWindow) ||
		l.ban != int64(DefaultShutdownBan) || l.maxEntries != DefaultLockoutEntries ||
		cap(l.global.recent) != DefaultGlobalFailures || l.global.window != int64(DefaultGlobalWindow) ||
		l.global.lock != int64(DefaultGlobalLock) {
		t.Errorf("defaults: %+v", l)
	}
	a := netip.MustParseAddr("192.0.2.1")
	for i := range DefaultShutdownFailures {
		if got, _ := l.Fail(a, 0); got != (i == DefaultShutdownFailures-1) {
			t.Errorf("failure %d: blocked = %v", i+1, got)
		}
	}
}

// ip4 returns the i-th address of 10.0.0.0/8.
func ip4(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// withoutBudget is l with a daemon-wide budget too large to matter, for tests of the table alone.
func withoutBudget(l *Lockout) *Lockout {
	l.global = newGlobalBudget(1<<12, time.Minute, time.Minute)
	return l
}

func TestLockoutBound(t *testing.T) {
	const max = 8
	l := withoutBudget(NewLockout(2, time.Minute, time.Hour, max))
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

// TestLockoutTable checks how the table makes room: expired entries go first, then the least recently
// failing address that is not banned; a ban is never evicted, and a table full of bans refuses new
// addresses until a ban ends.
func TestLockoutTable(t *testing.T) {
	const (
		a, b, c, d, e = "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"
		min, hour     = time.Minute, time.Hour
	)
	for _, tc := range []struct {
		name   string
		events []event
		len    int // entries at the end
	}{
		{"expired entries go first", []event{
			{0, a, true, false, false}, {0, a, true, true, false}, // a banned for an hour
			{1, b, true, false, false}, {1, c, true, false, false}, {2, d, true, false, false},
			{min + 1, e, true, false, false}, // full: b and c are expired and go, d stays
			{min + 1, a, false, true, false}, {min + 1, d, true, true, false},
		}, 3},
		{"then the oldest that is not banned", []event{
			{0, a, true, false, false}, {0, a, true, true, false}, // a is the oldest, but banned
			{1, b, true, false, false}, {2, c, true, false, false}, {3, d, true, false, false},
			{4, e, true, false, false},                             // full: b goes
			{5, a, false, true, false}, {6, b, true, false, false}, // b starts afresh, c goes
			{7, c, true, false, false}, // c starts afresh: its earlier failure was dropped
		}, 4},
		{"a ban is never evicted", []event{
			{0, a, true, false, false}, {0, a, true, true, false},
			{1, "10.0.0.1", true, false, false}, {2, "10.0.0.2", true, false, false},
			{3, "10.0.0.3", true, false, false}, {4, "10.0.0.4", true, false, false},
			{5, "10.0.0.5", true, false, false}, {6, "10.0.0.6", true, false, false},
			{7, a, false, true, false}, {hour - 1, a, true, true, false}, {hour, a, false, false, false},
		}, 4},
		{"a table full of bans fails closed", []event{
			{0, a, true, false, false}, {0, a, true, true, false}, {1, b, true, false, false},
			{1, b, true, true, false}, {2, c, true, false, false}, {2, c, true, true, false},
			{3, d, true, false, false}, {3, d, true, true, false},
			{4, e, false, true, false}, {5, e, true, true, false}, // e is refused, not tracked
			{hour - 1, e, false, true, false}, {hour, e, false, false, false}, // a's ban ended
			{hour, e, true, false, false}, {hour, e, true, true, false},
			{hour + 1, a, false, false, false}, {hour + 1, "192.0.2.6", false, false, false}, // b's ended too
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := withoutBudget(NewLockout(2, min, hour, 4))
			play(t, l, tc.events)
			if l.Len() != tc.len {
				t.Errorf("tracked %d, want %d", l.Len(), tc.len)
			}
		})
	}
}

// TestLockoutGlobalBudget checks the daemon-wide budget, here 3 failures per minute and a 5-minute lock:
// the failure that makes 4 within a minute locks every address, even one never seen, and says so once.
func TestLockoutGlobalBudget(t *testing.T) {
	const (
		a, b, c, d, fresh = "192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::4", "198.51.100.9"
		lock              = 5 * time.Minute
	)
	for _, tc := range []struct {
		name   string
		events []event
	}{
		{"over the budget locks every address", []event{
			{0, a, true, false, false}, {1, b, true, false, false}, {2, c, true, false, false},
			{3, fresh, false, false, false},
			{4, d, true, false, true}, // the 4th failure within a minute
			{5, fresh, false, true, false}, {5, a, false, true, false}, {5, "::1", false, true, false},
			{4 + lock - 1, fresh, false, true, false}, {4 + lock, fresh, false, false, false},
		}},
		{"the window slides", []event{
			{0, a, true, false, false}, {30 * time.Second, b, true, false, false},
			{59 * time.Second, c, true, false, false},
			{61 * time.Second, d, true, false, false}, // the failure at 0 has left the window
			{62 * time.Second, a, true, false, true},  // 30 s, 59 s, 61 s, 62 s: 4 within a minute
			{63 * time.Second, fresh, false, true, false},
		}},
		{"one address counts too", []event{
			{0, "2001:db8:1::1", true, false, false}, {1, "2001:db8:1::2", true, false, false},
			{2, "2001:db8:1::3", true, false, false}, {3, "2001:db8:1::4", true, false, true},
		}},
		{"a lock is not lengthened and said once", []event{
			{0, a, true, false, false}, {0, b, true, false, false}, {0, c, true, false, false},
			{0, d, true, false, true},
			{time.Minute, fresh, true, true, false}, // refused, not counted
			{lock - 1, fresh, false, true, false}, {lock, fresh, false, false, false},
		}},
		{"the budget starts afresh after a lock", []event{
			{0, a, true, false, false}, {0, b, true, false, false}, {0, c, true, false, false},
			{0, d, true, false, true},
			{lock, a, true, false, false}, {lock, b, true, false, false}, {lock, c, true, false, false},
			{lock + 1, fresh, false, false, false}, {lock + 1, d, true, false, true},
		}},
		{"banned addresses still count", []event{
			{0, a, true, false, false}, {0, a, true, true, false}, {0, b, true, false, false},
			{1, c, true, false, true}, {2, b, false, true, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLockout(2, time.Minute, time.Hour, 16)
			if tc.name != "banned addresses still count" {
				l.maxFailures = 100 // the per-address limit stays out of the way
			}
			l.global = newGlobalBudget(3, time.Minute, lock)
			play(t, l, tc.events)
		})
	}
}

// TestLockoutFlood is the attack of failures from many addresses: with the daemon-wide budget, a banned
// address stays banned, a fresh one is refused, and the table stays within its bound.
func TestLockoutFlood(t *testing.T) {
	const max = 64
	l := NewLockout(DefaultShutdownFailures, DefaultShutdownWindow, DefaultShutdownBan, max)
	attacker := netip.MustParseAddr("192.0.2.66")
	for range DefaultShutdownFailures {
		l.Fail(attacker, 0)
	}
	locks := 0
	for i := range 5000 {
		a := netip.MustParseAddr(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff))
		now := int64(i) * int64(time.Millisecond)
		if l.Blocked(a, now) {
			continue
		}
		if _, all := l.Fail(a, now); all {
			locks++
		}
	}
	if l.Len() > max {
		t.Errorf("tracked %d, bound %d", l.Len(), max)
	}
	if !l.Blocked(attacker, int64(5*time.Second)) || locks != 1 {
		t.Errorf("attacker blocked %v, daemon-wide locks %d; want blocked and 1",
			l.Blocked(attacker, int64(5*time.Second)), locks)
	}
}
