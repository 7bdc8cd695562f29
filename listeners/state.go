package listeners

import (
	"time"

	"echogate/config"
)

// observed is what the loop keeps for health checks and metrics: the daemon's state and the loop's own
// timing. It is owned by the loop goroutine.
type observed struct {
	state    string // ready, drain or maint (config.States)
	cfgState string // [daemon] state of the config applied last: a reload applies it only when it changes
	busy     loopHist
	lag      loopHist
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
			l.log.Info("state", "state", s, "was", l.obs.state, "by", "reload")
		}
		l.obs.state, l.obs.cfgState = s, s
	}
}

// SetState sets the daemon's state (one of config.States) from any goroutine but the loop's, and returns
// the state before.
func (l *Loop) SetState(s string) (was string) {
	l.Call(func() {
		was, l.obs.state = l.obs.state, s
		if was != s {
			l.log.Info("state", "state", s, "was", was, "by", "control socket")
		}
	})
	return was
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
