package main

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"echogate/config"
	"echogate/listeners"
	"echogate/systemd"
)

// reloader applies config changes one at a time: load and validate the file, plan, bind every new socket,
// and only then hand the plan to the loop. Any failure leaves the running config untouched.
type reloader struct {
	path     string
	loop     *listeners.Loop
	log      *slog.Logger
	notify   *systemd.Notifier
	act      *activation
	level    *slog.LevelVar
	flagLvl  bool // -log-level was given, so the file's log_level is ignored
	requests chan struct{}
	stopping *atomic.Bool // set when the daemon begins to stop: no more reloads

	mu      sync.Mutex
	force   bool
	current *config.Config
	status  string

	tried, failed [32]byte // SHA-256 of the file as the last reload read it, and of the last rejected one
}

func newReloader(d *daemon, loop *listeners.Loop, act *activation) *reloader {
	return &reloader{path: d.cfg.Path, current: d.cfg, loop: loop, log: d.log, notify: d.notify, act: act,
		level: d.level, flagLvl: d.levelFromFlag, stopping: &d.stopping, requests: make(chan struct{}, 1)}
}

// request asks for a reload; force skips the "content unchanged" check (SIGHUP). Requests that arrive while a
// reload runs are folded into one more.
func (r *reloader) request(force bool) {
	r.mu.Lock()
	r.force = r.force || force
	r.mu.Unlock()
	select {
	case r.requests <- struct{}{}:
	default:
	}
}

// run serves requests until stop is closed.
func (r *reloader) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-r.requests:
			r.mu.Lock()
			force := r.force
			r.force = false
			r.mu.Unlock()
			r.reload(force)
		}
	}
}

// reload performs one reload.
func (r *reloader) reload(force bool) {
	if r.stopping.Load() {
		return
	}
	if r.path == "" {
		r.log.Warn("reload requested, but listeners come from -listen flags; nothing to reload")
		r.sendNotify(r.notify.Reloading("nothing to reload: listeners come from -listen flags"))
		r.sendNotify(r.notify.Ready(r.statusLine()))
		return
	}
	if r.unchangedSinceFailure(force) {
		return
	}
	start := time.Now()
	next, err := config.Load(r.path)
	if err == nil && !force && next.Hash == r.current.Hash {
		r.log.Debug("config file unchanged, not reloading", "config", r.path)
		return
	}
	r.sendNotify(r.notify.Reloading("reloading " + r.path))
	if err != nil {
		r.fail(err)
		return
	}
	plan := config.Plan(r.current, next)
	daemonChanged := config.DaemonChanged(r.current, next)
	binds, err := listeners.Prepare(plan, r.act.lookup)
	if err != nil {
		r.fail(err)
		return
	}
	var res listeners.Result
	r.loop.Call(func() {
		res = r.loop.Apply(next.Daemon, plan, binds)
		r.loop.CountReload(len(res.Errors) == 0)
	})
	if r.stopping.Load() {
		return // the daemon began to stop meanwhile: Apply refused the plan, and systemd has had STOPPING=1
	}
	r.current = withoutListeners(next, res.Failed) // a listener that did not start is added again next time
	if !r.flagLvl {
		r.level.Set(levelOf(next.Daemon.LogLevel))
	}
	for _, err := range res.Errors {
		r.log.Error("reload: listener not started", "err", err)
	}
	r.logPlan(plan, res)
	if len(daemonChanged) > 0 {
		r.log.Info("reload: daemon settings", "changed", daemonChanged)
	}
	result := "ok"
	if len(res.Errors) > 0 {
		result = "partial"
	}
	r.log.Info("reload", "result", result, "added", res.Added, "removed", res.Removed, "changed", res.Changed,
		"kept", res.Kept, "connections", res.Carried, "took", time.Since(start), "loop_pause", res.LoopPause)
	r.setStatus(fmt.Sprintf("%d listeners, last reload %s at %s", len(res.Addrs), result, time.Now().UTC().Format(time.TimeOnly)))
	r.sendNotify(r.notify.Ready(r.statusLine()))
}

// fail logs a rejected reload; the old config keeps serving.
func (r *reloader) fail(err error) {
	r.failed = r.tried
	r.loop.Submit(func() { r.loop.CountReload(false) })
	r.log.Error("reload failed, keeping the running config", "err", err)
	r.setStatus("last reload failed: " + err.Error())
	r.sendNotify(r.notify.Ready(r.statusLine()))
}

// unchangedSinceFailure tells whether the file holds the content the last reload rejected, which is not
// tried again until the content changes or force (SIGHUP) asks for it. The file is read once more for its
// hash: a file replaced in between is only compared by the next reload, which its own event asks for.
func (r *reloader) unchangedSinceFailure(force bool) bool {
	data, err := os.ReadFile(r.path)
	if err != nil {
		r.tried = [32]byte{} // config.Load reports the error
		return false
	}
	r.tried = sha256.Sum256(data)
	if force || r.tried != r.failed {
		r.failed = [32]byte{}
		return false
	}
	r.log.Debug("config file unchanged since the rejected reload, not retrying; SIGHUP forces it", "config", r.path)
	return true
}

func (r *reloader) logPlan(plan []config.Action, res listeners.Result) {
	for _, a := range plan {
		if a.Kind == config.Keep {
			continue
		}
		attrs := []any{"action", string(a.Kind), "listener", a.Name}
		if addr, ok := res.Addrs[a.Name]; ok {
			attrs = append(attrs, "addr", addr)
		}
		if len(a.Changed) > 0 {
			attrs = append(attrs, "changed", a.Changed)
		}
		r.log.Info("reload: listener", attrs...)
	}
}

func (r *reloader) setStatus(s string) {
	r.mu.Lock()
	r.status = s
	r.mu.Unlock()
}

func (r *reloader) statusLine() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *reloader) sendNotify(err error) {
	if err != nil {
		r.log.Warn("sd_notify failed", "err", err)
	}
}

// levelOf maps a validated log_level to a slog level (info when unset).
func levelOf(s string) slog.Level {
	lv, err := parseLevel(s)
	if err != nil || s == "" {
		return slog.LevelInfo
	}
	return lv
}

// withoutListeners returns cfg without the named listeners (cfg itself when there are none).
func withoutListeners(cfg *config.Config, names []string) *config.Config {
	if len(names) == 0 {
		return cfg
	}
	cp := *cfg
	cp.Listeners = slices.DeleteFunc(slices.Clone(cfg.Listeners), func(lc config.Listener) bool {
		return slices.Contains(names, lc.Name)
	})
	return &cp
}
