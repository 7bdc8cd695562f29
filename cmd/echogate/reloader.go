package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"echogate/config"
	"echogate/internal/logmsg"
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
	control  *controlServer // follows [daemon] control_socket
	http     *httpEndpoint  // follows [daemon] http and http_allow; set before run
	level    *slog.LevelVar
	flagLvl  bool // -log-level was given, so the file's log_level is ignored
	requests chan struct{}
	stopping *atomic.Bool // set when the daemon begins to stop: no more reloads

	mu         sync.Mutex
	force      bool
	waiters    []chan reloadResult // control clients waiting for the next reload
	current    *config.Config      // written by the reload goroutine only, under mu
	generation uint64              // 1 at start, +1 per applied reload
	loadedAt   time.Time           // when current was applied
	last       *reloadResult       // the last reload that did something; nil before the first
	status     string
	outcomes   map[string]uint64 // reloads by result, for echogate_reloads_total
	lastOK     time.Time         // when a config was last applied whole (the start counts)
	notStarted []string          // listeners of the file that the last applied reload could not start

	tried, failed [32]byte // SHA-256 of the file as the last reload read it, and of the last rejected one
}

func newReloader(d *daemon, loop *listeners.Loop, act *activation, ctl *controlServer) *reloader {
	return &reloader{path: d.cfg.Path, current: d.cfg, loop: loop, log: d.log, notify: d.notify, act: act,
		control: ctl, level: d.level, flagLvl: d.levelFromFlag, stopping: &d.stopping,
		requests: make(chan struct{}, 1), generation: 1, loadedAt: d.startedAt, lastOK: d.startedAt,
		outcomes: map[string]uint64{}}
}

// request asks for a reload; force skips the "content unchanged" check (SIGHUP). Requests that arrive while a
// reload runs are folded into one more.
func (r *reloader) request(force bool) {
	r.mu.Lock()
	r.force = r.force || force
	r.mu.Unlock()
	r.wake()
}

// requestAndWait asks for a forced reload and returns where its result will be sent: the reload that starts
// after this call, so it reads the file as it is now.
func (r *reloader) requestAndWait() <-chan reloadResult {
	ch := make(chan reloadResult, 1)
	r.mu.Lock()
	r.force = true
	r.waiters = append(r.waiters, ch)
	r.mu.Unlock()
	r.wake()
	return ch
}

func (r *reloader) wake() {
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
			force, waiters := r.force, r.waiters
			r.force, r.waiters = false, nil
			r.mu.Unlock()
			res := r.reload(force)
			r.record(res)
			for _, w := range waiters {
				w <- res
			}
		}
	}
}

// reload performs one reload and says what it did.
func (r *reloader) reload(force bool) reloadResult {
	if r.stopping.Load() {
		r.log.Info(logmsg.ReloadSkipped, "event", "stopping")
		return refused(errStopping)
	}
	if r.path == "" {
		r.log.Warn(logmsg.ReloadSkipped, "event", "listeners come from -listen flags; nothing to reload")
		r.sendNotify(r.notify.Reloading("nothing to reload: listeners come from -listen flags"))
		r.sendNotify(r.notify.Ready(r.statusLine()))
		return refused(errNoFile)
	}
	start := time.Now()
	var next *config.Config
	data, err := config.Read(r.path)
	switch {
	case err != nil:
		r.tried = [32]byte{} // an unreadable file is reported, never remembered as rejected content
	case r.unchangedSinceFailure(data, force): // never when forced: no control client waits here
		return reloadResult{outcome: outcomeUnchanged, at: start, generation: r.generation}
	default:
		next, err = config.LoadData(r.path, data)
	}
	if err == nil && !force && next.Hash == r.current.Hash {
		r.log.Debug(logmsg.ReloadSkipped, "event", "config file unchanged", "config", r.path)
		return reloadResult{outcome: outcomeUnchanged, at: start, generation: r.generation}
	}
	r.sendNotify(r.notify.Reloading("reloading " + r.path))
	if err != nil {
		return r.fail(err)
	}
	return r.apply(next, start)
}

// apply plans the change from the running config to next, binds what it needs, and hands the plan to the
// loop. It runs on the reload goroutine, which alone writes r.current and r.generation.
func (r *reloader) apply(next *config.Config, start time.Time) reloadResult {
	plan := config.PlanActivated(r.current, next, r.act.names())
	daemonChanged := config.DaemonChanged(r.current, next)
	move, err := r.control.prepare(controlPath(next.Daemon))
	if err != nil {
		return r.fail(err)
	}
	binds, err := listeners.Prepare(plan, r.act.lookup)
	if err != nil {
		move.abort()
		return r.fail(err)
	}
	running := listeners.Running{Generation: r.generation + 1, ConfigSHA256: configSHA256(next), LoadedAt: time.Now()}
	var res listeners.Result
	r.loop.Call(func() {
		res = r.loop.Apply(next.Daemon, plan, binds)
		r.loop.CountReload(len(res.Errors) == 0)
		if !r.stopping.Load() { // OnShutdown runs on the loop: this is Apply's own view
			r.loop.SetRunning(running)
		}
	})
	if r.stopping.Load() {
		move.abort()
		return refused(errStopping) // Apply refused the plan, and systemd has had STOPPING=1
	}
	move.commit()
	if err := r.http.apply(next.Daemon); err != nil {
		r.log.Warn(logmsg.HTTP, "event", "the endpoint stays where it was after a reload", "err", err)
	}
	r.mu.Lock()
	r.current = withoutListeners(next, res.Failed) // a listener that did not start is added again next time
	r.notStarted = res.Failed
	r.generation, r.loadedAt = running.Generation, running.LoadedAt
	r.mu.Unlock()
	if !r.flagLvl {
		r.level.Set(levelOf(next.Daemon.LogLevel))
	}
	out := appliedResult(res, running.Generation)
	r.report(plan, res, daemonChanged, out, start)
	return out
}

// report logs an applied reload and tells systemd it is done.
func (r *reloader) report(plan []config.Action, res listeners.Result, daemonChanged []string, out reloadResult,
	start time.Time) {
	for _, err := range res.Errors {
		r.log.Error(logmsg.ReloadPartial, "err", err)
	}
	r.logPlan(plan, res)
	if len(daemonChanged) > 0 {
		r.log.Info(logmsg.ReloadDaemon, "changed", daemonChanged)
	}
	r.log.Info(logmsg.Reload, "result", out.outcome, "added", res.Added, "removed", res.Removed, "changed", res.Changed,
		"kept", res.Kept, "connections", res.Carried, "took", time.Since(start), "loop_pause", res.LoopPause,
		"generation", out.generation)
	r.setStatus(fmt.Sprintf("%d listeners, last reload %s at %s", len(res.Addrs), out.outcome, time.Now().UTC().Format(time.TimeOnly)))
	r.sendNotify(r.notify.Ready(r.statusLine()))
}

// fail logs a rejected reload; the old config keeps serving.
func (r *reloader) fail(err error) reloadResult {
	r.failed = r.tried
	r.loop.Submit(func() { r.loop.CountReload(false) })
	r.log.Error(logmsg.ReloadFailed, "err", err)
	r.setStatus("last reload failed: " + err.Error())
	r.sendNotify(r.notify.Ready(r.statusLine()))
	return refused(err)
}

// record keeps res as the last reload, unless it did nothing.
func (r *reloader) record(res reloadResult) {
	if res.outcome == outcomeUnchanged {
		return
	}
	r.mu.Lock()
	r.last = &res
	r.countOutcome(res)
	r.mu.Unlock()
}

// configSHA256 is the hex SHA-256 of the file cfg was read from ("" when it came from flags).
func configSHA256(cfg *config.Config) string {
	if cfg.Path == "" {
		return ""
	}
	return hex.EncodeToString(cfg.Hash[:])
}

// unchangedSinceFailure tells whether data is the content the last reload rejected, which is not tried again
// until the content changes or force (SIGHUP) asks for it.
func (r *reloader) unchangedSinceFailure(data []byte, force bool) bool {
	r.tried = sha256.Sum256(data)
	if force || r.tried != r.failed {
		r.failed = [32]byte{}
		return false
	}
	r.log.Debug(logmsg.ReloadSkipped, "event", "config file unchanged since the rejected reload, not retrying; SIGHUP forces it", "config", r.path)
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
		if a.Old != nil && a.New != nil {
			if diff := config.ListenerDiff(a.Old, a.New); len(diff) > 0 {
				attrs = append(attrs, "changed", joinChanges(diff))
			}
		}
		r.log.Info(logmsg.ReloadListener, attrs...)
	}
}

// joinChanges writes a listener's changes for its log line: "max_conns 1024→50, max_line 4096→100".
func joinChanges(diff []config.Change) string {
	s := make([]string, len(diff))
	for i, c := range diff {
		s[i] = c.String()
	}
	return strings.Join(s, ", ")
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
		r.log.Warn(logmsg.Notify, "err", err)
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
