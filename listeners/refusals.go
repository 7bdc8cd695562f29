package listeners

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"echogate/config"
	"echogate/internal/logmsg"
	"echogate/policy"
)

// reason says why a peer was refused or its datagram dropped. Its name is the reason= of the summary line:
// part of the log interface, listed in the README, so names stay short, lower-case and stable. A new reason
// is one constant here, one entry in reasons and one l.refused call where it happens.
type reason uint8

const (
	reasonCIDR       reason = iota // client outside allow (TCP and UDP)
	reasonBusy                     // TCP: max_conns reached
	reasonPerIP                    // TCP: max_conns_per_ip reached
	reasonAdminAllow               // /shutdown from outside admin_allow
	reasonLockout                  // /shutdown from an address locked out after bad tokens
	reasonBan                      // an address has just been locked out of /shutdown
	reasonToken                    // /shutdown with a wrong token
	reasonNoToken                  // /shutdown on a listener with no token configured
	reasonSourcePort               // UDP: source port 0 or in udp_deny_source_ports
	reasonBroadcast                // UDP: from, or sent to, a broadcast, multicast or unspecified address
	reasonRate                     // UDP: beyond rate_datagrams (or the rate table is full)
	reasonTruncated                // UDP: longer than max_datagram (answered with an error)
	reasonLoop                     // UDP: dropped by the echo-loop guard
	reasonAmplify                  // UDP: a command reply over 3 times its request (no reply is sent)
	reasonProxy                    // TCP: a PROXY header malformed, too slow, missing where required, or untrusted
	reasonStampAuth                // STAMP: an authenticated test packet whose HMAC is wrong
	reasonStampShort               // STAMP: a datagram shorter than a test packet
	reasonTLSQueue                 // TLS: the handshake queue was full (tls_refused)
	reasonTLSFailed                // TLS: the handshake failed or timed out (tls_handshake_errors)
	numReasons
)

// reasons gives each reason its name and the level of its summary line. Refused /shutdown attempts are
// warnings, as one line each was before; the rest is information, at the default level, so that the log
// answers "why does my probe get nothing?".
var reasons = [numReasons]struct {
	name  string
	level slog.Level
}{
	reasonCIDR:       {"cidr", slog.LevelInfo},
	reasonBusy:       {"busy", slog.LevelInfo},
	reasonPerIP:      {"per_ip", slog.LevelInfo},
	reasonAdminAllow: {"admin_allow", slog.LevelWarn},
	reasonLockout:    {"lockout", slog.LevelWarn},
	reasonBan:        {"ban", slog.LevelWarn},
	reasonToken:      {"token", slog.LevelWarn},
	reasonNoToken:    {"no_token", slog.LevelWarn},
	reasonSourcePort: {"source_port", slog.LevelInfo},
	reasonBroadcast:  {"broadcast", slog.LevelInfo},
	reasonRate:       {"rate", slog.LevelInfo},
	reasonTruncated:  {"truncated", slog.LevelInfo},
	reasonLoop:       {"loop", slog.LevelInfo},
	reasonAmplify:    {"amplification", slog.LevelInfo},
	reasonProxy:      {"proxy", slog.LevelInfo},
	reasonStampAuth:  {"stamp_auth", slog.LevelWarn},
	reasonStampShort: {"stamp_short", slog.LevelInfo},
	reasonTLSQueue:   {"tls_queue", slog.LevelInfo},
	reasonTLSFailed:  {"tls_handshake", slog.LevelInfo},
}

func (r reason) String() string { return reasons[r].name }

// verdictReason is the reason for a datagram policy.AdmitDatagram refused.
func verdictReason(v policy.Verdict) reason {
	switch v {
	case policy.DropSourcePort:
		return reasonSourcePort
	case policy.DropBroadcast:
		return reasonBroadcast
	}
	return reasonCIDR
}

// refusalKey names one summary: a listener and a reason.
type refusalKey struct {
	listener string
	why      reason
}

// refusalEntry counts the refusals of one key since its last summary line.
type refusalEntry struct {
	key      refusalKey
	count    uint64
	peer     netip.AddrPort // the latest refused peer
	lastLine int64          // loop time of the last summary line
	logged   bool           // a line was logged for this entry
}

// due is when the entry may log its next line: at once if it never has, else one interval after the last.
func (e *refusalEntry) due(every int64) int64 {
	if !e.logged {
		return 0
	}
	return e.lastLine + every
}

// refusals turns refusals that remote peers can cause in any number into at most one log line per listener
// and reason per interval: the first refusal of a quiet key is logged at once (after the events of that
// wake-up, which it counts too), later ones are counted and summarised when the interval since the last
// line has passed. A key quiet for a whole interval
// after its line is forgotten, so the table only holds what was refused lately. It belongs to the loop
// goroutine.
type refusals struct {
	entries map[refusalKey]*refusalEntry
	pending []*refusalEntry // every entry of the table, each waiting for its next line or to be forgotten
	timer   *timer
}

// note counts one refusal. It reports whether the key is new, whose line is due at once; a known key costs
// one map look-up and no allocation.
func (s *refusals) note(listener string, why reason, peer netip.AddrPort) (added bool) {
	k := refusalKey{listener, why}
	e := s.entries[k]
	if e == nil {
		if s.entries == nil {
			s.entries = make(map[refusalKey]*refusalEntry)
		}
		e = &refusalEntry{key: k}
		s.entries[k] = e
		s.pending = append(s.pending, e)
		added = true
	}
	e.count++
	e.peer = peer
	return added
}

// flush calls emit for each entry whose line is due at now, forgets entries that stayed quiet for an
// interval after their line, and returns when the next entry falls due (ok is false when none is left).
func (s *refusals) flush(now, every int64, emit func(*refusalEntry)) (next int64, ok bool) {
	keep := s.pending[:0]
	for _, e := range s.pending {
		switch {
		case e.due(every) > now:
		case e.count > 0:
			emit(e)
			e.count, e.lastLine, e.logged = 0, now, true
		default:
			delete(s.entries, e.key)
			continue
		}
		keep = append(keep, e)
		if d := e.due(every); !ok || d < next {
			next, ok = d, true
		}
	}
	clear(s.pending[len(keep):])
	s.pending = keep
	return next, ok
}

// refused records that peer was refused on listener for reason why, and makes sure a summary line follows.
// It is cheap enough for every refused connection or datagram: one map look-up and no allocation.
func (l *Loop) refused(listener string, why reason, peer netip.AddrPort) {
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port()) // as the allow list saw it
	if l.refusals.note(listener, why, peer) {
		l.armRefusals(l.nowNano)
	}
}

// armRefusals makes sure the flush runs by loop time when.
func (l *Loop) armRefusals(when int64) {
	s := &l.refusals
	if s.timer != nil && s.timer.index >= 0 {
		if s.timer.when <= when {
			return
		}
		l.cancel(s.timer)
	}
	s.timer = l.schedule(time.Duration(max(when-l.nowNano, 0)), l.flushDueRefusals)
}

// flushRefusals logs the summaries that are due, or with all set every summary with a count (when the
// loop stops), and arms the next flush.
func (l *Loop) flushRefusals(all bool) {
	every := int64(l.refusalsEvery())
	if all {
		every = 0 // every entry is due
	}
	next, ok := l.refusals.flush(l.nowNano, every, l.logRefusal)
	if ok && !all {
		l.armRefusals(next)
	}
}

func (l *Loop) flushDueRefusals() { l.flushRefusals(false) }

// logRefusal writes one summary line, e.g.
// msg=refused listener=diag reason=cidr count=412 last_peer=10.1.2.3:5555.
func (l *Loop) logRefusal(e *refusalEntry) {
	r := reasons[e.key.why]
	l.log.Log(context.Background(), r.level, logmsg.Refused, "listener", e.key.listener, "reason", r.name,
		"count", e.count, "last_peer", e.peer)
}

// refusalsEvery is the summary interval: log_refusals_every, or its default.
func (l *Loop) refusalsEvery() time.Duration {
	if l.opts.LogRefusalsEvery > 0 {
		return l.opts.LogRefusalsEvery
	}
	return config.DefaultLogRefusalsEvery
}

// setRefusalsEvery follows a reload's log_refusals_every: lines already waiting fall due by the new interval.
func (l *Loop) setRefusalsEvery(every time.Duration) {
	if every == l.opts.LogRefusalsEvery {
		return
	}
	l.opts.LogRefusalsEvery = every
	if len(l.refusals.pending) > 0 {
		l.armRefusals(l.nowNano)
	}
}
