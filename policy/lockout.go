package policy

import (
	"net/netip"
	"time"
)

// Defaults of the /shutdown brute-force guard.
const (
	DefaultShutdownFailures = 5               // failures from one address that start its ban
	DefaultShutdownWindow   = time.Minute     // the failures must fall within this window
	DefaultShutdownBan      = 5 * time.Minute // how long an address stays blocked
	DefaultLockoutEntries   = 4096            // addresses tracked at most

	DefaultGlobalFailures = 100             // failures from all addresses together that a window may hold
	DefaultGlobalWindow   = time.Minute     // the sliding window of the daemon-wide budget
	DefaultGlobalLock     = 5 * time.Minute // how long one failure over the budget locks every address out
)

// Lockout is the /shutdown brute-force guard. It has two limits:
//   - per address: after MaxFailures failed attempts from one address within a window that starts at its
//     first failure, the address is blocked for the ban time. IPv6 addresses are tracked by /64,
//     IPv4-mapped ones as IPv4.
//   - daemon-wide: a failure that makes more than DefaultGlobalFailures within any DefaultGlobalWindow,
//     from whatever addresses, blocks every address for DefaultGlobalLock. Guesses spread over many
//     source addresses therefore meet a limit too.
//
// Memory is bounded by maxEntries addresses. To make room, expired entries are dropped first, then the
// least recently failing address that is not banned. A ban is never evicted: when every entry is a
// running ban, a new address is blocked (the guard fails closed) until the first ban ends, so failures
// from many other addresses cannot flush an attacker's ban.
//
// Time is monotonic nanoseconds passed in by the caller. It is owned by the event loop and is not safe
// for concurrent use.
type Lockout struct {
	maxFailures int
	window, ban int64
	maxEntries  int
	entries     map[netip.Addr]lockEntry
	banned      int   // entries with a ban, running or ended but not yet dropped
	fullUntil   int64 // when every entry is a running ban: the first time one ends; 0 = to be computed
	global      globalBudget
}

// lockEntry is the record of one address (or IPv6 /64).
type lockEntry struct {
	start  int64 // first failure of the current window
	last   int64 // latest failure
	fails  int
	banEnd int64 // blocked while now < banEnd; 0 = not banned
}

// NewLockout returns a guard with the given per-address limits and the default daemon-wide budget; a value
// that is zero or negative takes its default (DefaultShutdownFailures, DefaultShutdownWindow,
// DefaultShutdownBan, DefaultLockoutEntries).
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
		global:      newGlobalBudget(DefaultGlobalFailures, DefaultGlobalWindow, DefaultGlobalLock),
	}
}

// Blocked reports whether a /shutdown from a is refused at now: a is banned, every address is locked
// out by the daemon-wide budget, or a is new and the table is full of bans. An invalid address is
// always blocked.
func (l *Lockout) Blocked(a netip.Addr, now int64) bool {
	if l.global.locked(now) {
		return true
	}
	k, ok := lockKey(a)
	if !ok {
		return true
	}
	if e, found := l.entries[k]; found {
		return now < e.banEnd
	}
	return !l.hasRoom(now)
}

// Fail records a failed /shutdown from a at now. blocked reports whether a is blocked afterwards by its
// own record: it was banned by this failure or before, or it could not be tracked because the table is
// full of bans. lockedAll reports whether this failure went over the daemon-wide budget and so started a
// lock of every address, which the caller logs (once per lock). A failure while blocked does not
// lengthen a ban, and one during a daemon-wide lock is not counted at all.
func (l *Lockout) Fail(a netip.Addr, now int64) (blocked, lockedAll bool) {
	if l.global.locked(now) {
		return true, false
	}
	k, ok := lockKey(a)
	if !ok {
		return true, false
	}
	lockedAll = l.global.fail(now)
	e, found := l.entries[k]
	if found && now < e.banEnd {
		return true, lockedAll
	}
	if !found && !l.makeRoom(now) {
		return true, lockedAll
	}
	if !found || l.expired(e, now) {
		if e.banEnd != 0 {
			l.banned-- // a ban that ended: the address starts afresh
		}
		e = lockEntry{start: now}
		l.fullUntil = 0
	}
	e.fails++
	e.last = now
	if e.banEnd == 0 && e.fails >= l.maxFailures {
		e.banEnd = now + l.ban
		l.banned++
		l.fullUntil = 0
	}
	l.entries[k] = e
	return e.banEnd != 0, lockedAll
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

// hasRoom reports whether a new address could be tracked at now, without changing the table unless it
// is full of bans. Then it drops the ended ones, but only once the first of them has ended, so that
// refusing new addresses costs no scan of the table.
func (l *Lockout) hasRoom(now int64) bool {
	if len(l.entries) < l.maxEntries || l.banned < len(l.entries) {
		return true // room, or an entry that is not banned and may be evicted
	}
	if l.fullUntil != 0 && now < l.fullUntil {
		return false
	}
	l.dropExpired(now)
	return len(l.entries) < l.maxEntries
}

// makeRoom makes room for one new entry and reports whether there is. It drops every expired entry, or,
// when none is, the entry that is not banned whose latest failure is oldest. A table full of running
// bans has no room.
func (l *Lockout) makeRoom(now int64) bool {
	switch {
	case len(l.entries) < l.maxEntries:
		return true
	case l.banned == len(l.entries):
		return l.hasRoom(now) // only bans: room once one has ended
	case l.dropExpired(now):
		return true
	}
	var oldest netip.Addr
	var oldestAt int64
	for k, e := range l.entries {
		if e.banEnd == 0 && (!oldest.IsValid() || e.last < oldestAt) {
			oldest, oldestAt = k, e.last
		}
	}
	delete(l.entries, oldest) // there is one: not every entry is banned
	return true
}

// dropExpired deletes the expired entries and reports whether any was. It also notes when the first of
// the remaining bans ends, for hasRoom.
func (l *Lockout) dropExpired(now int64) (freed bool) {
	l.fullUntil = 0
	for k, e := range l.entries {
		switch {
		case l.expired(e, now):
			delete(l.entries, k)
			if e.banEnd != 0 {
				l.banned--
			}
			freed = true
		case e.banEnd != 0 && (l.fullUntil == 0 || e.banEnd < l.fullUntil):
			l.fullUntil = e.banEnd
		}
	}
	return freed
}

// globalBudget is the daemon-wide failure budget: it remembers the times of the latest max failures,
// so the failure that would make max+1 within window is seen exactly (a sliding window, in fixed memory).
type globalBudget struct {
	window, lock int64
	recent       []int64 // times of the latest failures, a ring of at most cap(recent)
	oldest       int     // index in recent of the oldest, once it is full
	lockEnd      int64   // every address is blocked while now < lockEnd
}

// newGlobalBudget returns a budget of failures per window that locks for lock when it is exceeded; a
// budget below 1 takes DefaultGlobalFailures.
func newGlobalBudget(failures int, window, lock time.Duration) globalBudget {
	if failures < 1 {
		failures = DefaultGlobalFailures
	}
	return globalBudget{window: int64(window), lock: int64(lock), recent: make([]int64, 0, failures)}
}

// locked reports whether every address is locked out at now.
func (g *globalBudget) locked(now int64) bool { return now < g.lockEnd }

// fail records a failure at now and reports whether it went over the budget, starting a lock. The
// budget starts afresh after a lock.
func (g *globalBudget) fail(now int64) (started bool) {
	if len(g.recent) < cap(g.recent) {
		g.recent = append(g.recent, now)
		return false
	}
	if now-g.recent[g.oldest] < g.window {
		g.lockEnd = now + g.lock
		g.recent, g.oldest = g.recent[:0], 0
		return true
	}
	g.recent[g.oldest] = now
	g.oldest = (g.oldest + 1) % len(g.recent)
	return false
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
