package policy

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
)

// An echo loop with another echo server (or another echogate) is one datagram bounced back and forth: the
// same bytes arrive from the same peer again and again, as fast as the round trip allows. A client never
// does that faster than a few times a second: a load generator sends distinct payloads (sequence numbers),
// and a health checker that repeats one payload sends it once a second or so. So LoopGuard gives every
// (listener, peer, payload) triple a token bucket of LoopRepeatRate identical datagrams a second, with a burst
// of LoopRepeatBurst. A loop faster than that drains its bucket and loses one datagram, and a loop that
// loses one datagram has ended: after about LoopRepeatBurst round trips for a loop on a LAN. Distinct payloads
// are never limited: each has a bucket of its own.
//
// The buckets live in a fixed table of loopSets × loopWays entries, indexed by a keyed hash (a seed drawn at
// start), so a remote peer can neither grow the table nor aim at one set. A new triple takes the entry of its
// set whose bucket is the fullest: an entry whose bucket has refilled holds nothing worth keeping, while the
// entry of a running loop is refreshed on every round trip.

// The rate at which identical datagrams from one peer are answered.
const (
	LoopRepeatRate  = 5  // identical datagrams a second, sustained
	LoopRepeatBurst = 10 // identical datagrams in a row at any speed
)

const (
	loopSets = 1024
	loopWays = 4
)

// LoopGuard detects echo loops. It is owned by one goroutine.
type LoopGuard struct {
	seed maphash.Seed
	rate rate
	sets [loopSets][loopWays]loopEntry
}

// loopEntry is the bucket of one (listener, peer, payload) triple.
type loopEntry struct {
	key uint64
	Bucket
}

// NewLoopGuard returns an empty guard (64 KiB).
func NewLoopGuard() *LoopGuard {
	return &LoopGuard{seed: maphash.MakeSeed(), rate: newRate(LoopRepeatRate, LoopRepeatBurst)}
}

// Key names one datagram: the listener it reached (any number that tells listeners apart), its source, its
// size on the wire and its bytes. It does not allocate.
func (g *LoopGuard) Key(listener uint64, src netip.AddrPort, size int, payload []byte) uint64 {
	a := canonical(src.Addr()).As16()
	k := mix64(listener ^ uint64(src.Port())<<32 ^ uint64(uint32(size)))
	k = mix64(k ^ binary.LittleEndian.Uint64(a[:8]))
	k = mix64(k ^ binary.LittleEndian.Uint64(a[8:]))
	return mix64(k ^ maphash.Bytes(g.seed, payload))
}

// Admit spends one token of key's bucket at now (monotonic nanoseconds). It reports false when identical
// datagrams arrive faster than the guard allows: the datagram belongs to an echo loop and must not be
// answered. It does not allocate.
func (g *LoopGuard) Admit(key uint64, now int64) bool {
	set := &g.sets[key%loopSets]
	victim := 0
	for i := range set {
		e := &set[i]
		if e.key == key {
			ok, _ := g.rate.take(&e.Bucket, now)
			return ok
		}
		if e.full < set[victim].full {
			victim = i
		}
	}
	e := &set[victim]
	e.key, e.Bucket = key, Bucket{}
	g.rate.take(&e.Bucket, now)
	return true
}

// mix64 is the finaliser of MurmurHash3: every input bit moves about half the output bits.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
