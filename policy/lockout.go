package policy

import (
	"net/netip"
	"time"
)

// Defaults of the /shutdown brute-force guard.
const (
	DefaultShutdownFailures = 5               // failures that start a ban
	DefaultShutdownWindow   = time.Minute     // the failures must fall within this window
	DefaultShutdownBan      = 5 * time.Minute // how long an address stays blocked
	DefaultLockoutEntries   = 4096            // addresses tracked at most
)

// Lockout is the /shutdown brute-force guard: after MaxFailures failed attempts from one address
// within a window that starts at its first failure, the address is blocked for the ban time.
// IPv6 addresses are tracked by /64, IPv4-mapped ones as IPv4. Memory is bounded: when maxEntries
// addresses are tracked, expired entries are dropped first, then the least recently failing one.
// Time is monotonic nanoseconds passed in by the caller. It is owned by the event loop and is not
// safe for concurrent use.
type Lockout struct {
	maxFailures int
	window, ban int64
	maxEntries  int
	entries     map[netip.Addr]lockEntry
}

// lockEntry is the record of one address (or IPv6 /64).
type lockEntry struct {
	start  int64 // first failure of the current window
	last   int64 // latest failure
	fails  int
	banEnd int64 // blocked while now < banEnd; 0 = not banned
}

// NewLockout returns a guard with the given limits; a value that is zero or negative takes its
// default (DefaultShutdownFailures, DefaultShutdownWindow, DefaultShutdownBan, DefaultLockoutEntries).
func NewLockout(maxFailures int, window, ban time.Duration, maxEntries int) *Lockout {
	if maxFailures <= 0 {
		maxFailures = DefaultShutdownFailures
	}
	if window <= 0 {
		window = DefaultShutdownWindow
	}
	if ban <= 0 {
		ban = DefaultShutdownBan
	}
	if maxEntries <= 0 {
		maxEntries = DefaultLockoutEntries
	}
	return &Lockout{
		maxFailures: maxFailures,
		window:      int64(window),
		ban:         int64(ban),
		maxEntries:  maxEntries,
		entries:     make(map[netip.Addr]lockEntry),
	}
}

// Blocked reports whether a is banned at now. An invalid address is always blocked.
func (l *Lockout) Blocked(a netip.Addr, now int64) bool {
	k, ok := lockKey(a)
	if !ok {
		return true
	}
	e, found := l.entries[k]
	return found && now < e.banEnd
}

// Fail records a failed /shutdown from a at now and reports whether a is blocked afterwards.
// A failure while already blocked does not lengthen the ban.
func (l *Lockout) Fail(a netip.Addr, now int64) (blocked bool) {
	k, ok := lockKey(a)
	if !ok {
		return true
	}
	e, found := l.entries[k]
	if found && now < e.banEnd {
		return true
	}
	if !found || l.expired(e, now) {
		if !found && len(l.entries) >= l.maxEntries {
			l.evict(now)
		}
		e = lockEntry{start: now}
	}
	e.fails++
	e.last = now
	if e.fails >= l.maxFailures {
		e.banEnd = now + l.ban
	}
	l.entries[k] = e
	return e.banEnd != 0
}

// Len returns how many addresses are tracked.
func (l *Lockout) Len() int { return len(l.entries) }

// expired reports whether e no longer counts at now: its ban is over, or it was never banned
// and its window is over.
func (l *Lockout) expired(e lockEntry, now int64) bool {
	if e.banEnd != 0 {
		return now >= e.banEnd
	}
	return now-e.start >= l.window
}

// evict makes room for one entry: it drops every expired entry, or, when none is, the entry
// whose latest failure is oldest.
func (l *Lockout) evict(now int64) {
	var oldest netip.Addr
	oldestAt, freed := int64(0), false
	for k, e := range l.entries {
		switch {
		case l.expired(e, now):
			delete(l.entries, k)
			freed = true
		case !oldest.IsValid() || e.last < oldestAt:
			oldest, oldestAt = k, e.last
		}
	}
	if !freed && oldest.IsValid() {
		delete(l.entries, oldest)
	}
}

// lockKey is the map key of a: IPv4 as is (unmapped), IPv6 masked to its /64, no zone.
func lockKey(a netip.Addr) (netip.Addr, bool) {
	a = canonical(a)
	if !a.IsValid() {
		return netip.Addr{}, false
	}
	if a.Is4() {
		return a, true
	}
	return netip.PrefixFrom(a, 64).Masked().Addr(), true
}
