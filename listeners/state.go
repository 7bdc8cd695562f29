package listeners

import (
	"sync/atomic"
	"time"

	"echogate/config"
	"echogate/internal/logmsg"
)

// observed is what the loop keeps for health checks and metrics: the daemon's state and the loop's own
// timing. It is owned by the loop goroutine.
type observed struct {
	state    string // ready, drain or maint (config.States)
	cfgState string // [daemon] state of the config applied last: a reload applies it only when it changes
	busy     loopHist
	lag      loopHist
	// closes counts the listening and UDP sockets the loop has closed. A scrape reads the kernel's view of
	// the sockets off the loop, by the fds it was given, and keeps what it read only if no socket was closed
	// meanwhile: a closed fd's number may already name another file.
	closes    atomic.Uint64
	lastViews atomic.Int64 // how many listeners the last observation had
}

func (o *observed) init() {
	o.state = config.StateReady
	o.busy.bounds, o.lag.bounds = &busyBounds, &lagBounds
}

// applyConfigState takes [daemon] state from a config being applied: a state set at run time lasts until
// the config's state changes.
func (l *Loop) applyConfigState(s string) {
	if s == "" {
		s = config.StateReady
	}
	if s != l.obs.cfgState {
		if l.obs.cfgState != "" && s != l.obs.state {
			l.log.Info(logmsg.State, "state", s, "was", l.obs.state, "by", "reload")
		}
		l.obs.state, l.obs.cfgState = s, s
	}
}

// SetState sets the daemon's state (one of config.States) from any goroutine but the loop's, and returns
// the state before; false when the loop did not take it within timeout (it may still take it later).
func (l *Loop) SetState(s string, timeout time.Duration) (was string, ok bool) {
	done := make(chan string, 1)
	ok = l.CallWithin(timeout, func() {
		old := l.obs.state
		l.obs.state = s
		if old != s {
			l.log.Info(logmsg.State, "state", s, "was", old, "by", "control socket")
		}
		done <- old
	})
	if ok {
		was = <-done
	}
	return was, ok
}

// recordBusy counts the time since the loop woke up, before it waits again.
func (l *Loop) recordBusy() {
	l.obs.busy.observe(int64(time.Since(l.start)) - l.nowNano)
}

// serving reports whether the listener called name accepts clients now: it is bound and registered, and not
// paused for lack of file descriptors.
func (l *Loop) serving(name string) bool {
	if ln, ok := l.tcp[name]; ok {
		return !ln.paused
	}
	_, ok := l.udp[name]
	return ok
}

// Health is the loop's answer to a readiness or a per-listener health check.
type Health struct {
	State      string   // ready, drain or maint
	NotServing []string // of the names asked about, those that do not serve now, in the order asked
}

// Health tells the state and which of names do not serve now (not bound, or paused), through the loop's
// queue; false when the loop did not answer within timeout. It costs the loop one map lookup per name.
func (l *Loop) Health(names []string, timeout time.Duration) (Health, bool) {
	var h Health
	ok := l.CallWithin(timeout, func() {
		h.State = l.obs.state
		for _, name := range names {
			if !l.serving(name) {
				h.NotServing = append(h.NotServing, name)
			}
		}
	})
	return h, ok
}
