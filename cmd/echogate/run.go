package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
	"echogate/internal/logmsg"
	"echogate/listeners"
	"echogate/systemd"
)

// runCommand is `echogate run`: it serves until SIGINT, SIGTERM or an admin /shutdown, and returns the exit code.
func runCommand(args []string) int {
	fs := newFlagSet("run")
	path, levelFlag, format, listens := runFlags(fs)
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	// SIGHUP must be caught before anything can tell systemd we are ready, or a reload would kill us.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	// Go kills a program whose write to fd 1 or 2 meets a closed pipe, unless SIGPIPE is handled: a
	// restarted log shipper would take the daemon down with it. Ignored, the write fails with EPIPE and the
	// line is counted as dropped (logs_dropped).
	signal.Ignore(syscall.SIGPIPE)

	cfg, err := loadConfig(*path, *listens)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echogate:", err)
		return 1
	}
	level := new(slog.LevelVar)
	level.Set(levelOf(cfg.Daemon.LogLevel))
	if *levelFlag != "" {
		lv, err := parseLevel(*levelFlag)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echogate:", err)
			return 2
		}
		level.Set(lv)
	}
	logs, err := newLogger(*format, level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echogate:", err)
		return 2
	}
	defer logs.Close(logFlushWait)
	log := slog.New(logs.Waiting(logPatience))
	d := &daemon{cfg: cfg, log: log, loopLog: slog.New(logs.Handler()), logsDropped: logs.Dropped, level: level,
		levelFromFlag: *levelFlag != "", signals: signals, startedAt: time.Now()}
	if err := d.serve(); err != nil {
		log.Error(logmsg.Stopped, "err", err)
		return 1
	}
	return 0
}

// runFlags declares the flags of `echogate run` on fs.
func runFlags(fs *flag.FlagSet) (path, level, format *string, listens *listFlag) {
	path = fs.String("config", "", "TOML config `FILE` (watched and hot-reloaded)")
	level = fs.String("log-level", "", "log `LEVEL`: debug, info, warn or error (default: the config's log_level, or info)")
	format = fs.String("log-format", "auto", "log `FORMAT`: auto, tint, text, json or journal")
	listens = new(listFlag)
	fs.Var(listens, "listen", "serve a listener at `URL` with default limits, e.g. tcp://127.0.0.1:7007 (repeatable; instead of -config)")
	return path, level, format, listens
}

// daemon is one `echogate run`.
type daemon struct {
	cfg           *config.Config
	log           *slog.Logger
	loopLog       *slog.Logger  // never waits for the log's reader: for the loop and what runs on it
	logsDropped   func() uint64 // log lines lost to a full queue or a failed write
	level         *slog.LevelVar
	levelFromFlag bool
	signals       chan os.Signal
	notify        *systemd.Notifier
	stopping      atomic.Bool
	startedAt     time.Time
	control       *controlServer
	reloader      *reloader // set before the loop runs
}

// serve brings up the loop on the config's listeners, then the control socket, the reloader, the HTTP
// endpoint, the config watcher and the signal handler, and serves until the loop stops.
func (d *daemon) serve() error {
	raiseFileLimit(d.log)
	d.notify = systemd.NewNotifier()
	loop, act, served, err := d.startListeners()
	if err != nil {
		return err
	}
	if err := writePIDFile(d.cfg.Daemon.PIDFile); err != nil {
		d.log.Warn(logmsg.PIDFile, "err", err)
	}
	defer removePIDFile(d.cfg.Daemon.PIDFile)
	stop := make(chan struct{})
	r, closeServices, err := d.startServices(loop, act, stop)
	if err != nil {
		return abortStartup(loop, err)
	}
	defer closeServices()
	defer close(stop) // the reloader, watcher and signal handler end before the sockets they use are closed
	armTestHooks(loop, d.log)
	if d.cfg.Path != "" {
		if err := watchConfig(d.cfg.Path, d.log, func() { r.request(false) }, stop); err != nil {
			d.log.Warn(logmsg.ConfigWatch, "event", "disabled; reload with SIGHUP", "err", err)
		}
	}
	go d.handleSignals(loop, r, stop)
	return d.runLoop(loop, r, served)
}

// startListeners makes the loop and applies the first config to it, on the sockets systemd passed or on
// new ones. It returns the loop (not running yet), the activation, and how many listeners serve.
func (d *daemon) startListeners() (*listeners.Loop, *activation, int, error) {
	act, err := newActivation(d.cfg, d.log)
	if err != nil {
		return nil, nil, 0, err
	}
	loop, err := listeners.New(d.loopOptions())
	if err != nil {
		return nil, nil, 0, err
	}
	plan := config.PlanActivated(nil, d.cfg, act.names())
	binds, err := listeners.Prepare(plan, act.lookup)
	if err != nil {
		return nil, nil, 0, err
	}
	res := loop.Apply(d.cfg.Daemon, plan, binds)
	if len(res.Errors) > 0 {
		return nil, nil, 0, abortStartup(loop, res.Errors[0])
	}
	loop.SetRunning(listeners.Running{Generation: 1, ConfigSHA256: configSHA256(d.cfg), LoadedAt: d.startedAt})
	for _, lc := range d.cfg.Listeners {
		d.log.Info(logmsg.Serving, "listener", lc.Name, "protocol", lc.Protocol, "addr", res.Addrs[lc.Name])
	}
	return loop, act, len(res.Addrs), nil
}

// startServices brings up what serves beside the loop: the control socket, the reloader and the HTTP
// endpoint. closeAll ends the control socket and the endpoint; on an error, nothing is left open.
func (d *daemon) startServices(loop *listeners.Loop, act *activation, stop <-chan struct{}) (
	r *reloader, closeAll func(), err error) {
	d.control = newControlServer(d.log)
	move, err := d.control.prepare(controlPath(d.cfg.Daemon))
	if err != nil {
		return nil, nil, err
	}
	move.commit()
	r = newReloader(d, loop, act, d.control)
	d.reloader = r
	if r.http, err = startHTTP(d, loop, act); err != nil {
		d.control.close()
		return nil, nil, err
	}
	go r.run(stop)
	d.control.serve(controlHandlers{reload: r.requestAndWait, status: d.statusJSON, state: d.setState})
	return r, func() { r.http.close(); d.control.close() }, nil
}

// runLoop runs the loop until it stops, telling systemd and the log that the daemon is ready once the loop
// goroutine has started.
func (d *daemon) runLoop(loop *listeners.Loop, r *reloader, served int) error {
	done := make(chan error, 1)
	go func() { done <- loop.Run() }()
	status := fmt.Sprintf("serving %d listeners", served)
	r.setStatus(status)
	d.warnNotify(d.notify.Ready(status))
	d.log.Info(logmsg.Ready, "listeners", served, "version", version)
	err := <-done
	d.log.Info(logmsg.Stopped)
	return err
}

// abortStartup stops a loop that never served (it runs just long enough to close what it holds) and returns
// err, the reason.
func abortStartup(loop *listeners.Loop, err error) error {
	loop.Shutdown("startup failed")
	_ = loop.Run() // err is what the caller reports; the loop only releases its sockets here
	return err
}

func (d *daemon) loopOptions() listeners.Options {
	opts := listeners.Options{
		Logger:        d.loopLog,
		Version:       version,
		StartedAt:     d.startedAt,
		StatsInterval: d.cfg.Daemon.StatsInterval,
		UDPPeerWindow: d.cfg.Daemon.UDPPeerWindow,
		DrainTimeout:  d.cfg.Daemon.DrainTimeout,
		ShutdownGrace: d.cfg.Daemon.ShutdownGrace,
		OnStats: func(tcp, udp int) {
			if r := d.reloader; r != nil {
				d.warnNotify(d.notify.Status(fmt.Sprintf("%s; %d TCP connections, %d UDP peers", r.statusLine(), tcp, udp)))
			}
		},
		OnShutdown: func(reason string) {
			d.stopping.Store(true)
			d.warnNotify(d.notify.Stopping("stopping: " + reason))
		},
	}
	opts.LogRefusalsEvery = d.cfg.Daemon.LogRefusalsEvery
	opts.LogsDropped = d.logsDropped
	if every, ok := systemd.WatchdogInterval(); ok {
		opts.WatchdogEvery = every
		opts.Watchdog = func() { d.warnNotify(d.notify.Watchdog()) }
	}
	return opts
}

// handleSignals turns SIGHUP into a reload and SIGINT/SIGTERM into a graceful stop.
func (d *daemon) handleSignals(loop *listeners.Loop, r *reloader, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case sig := <-d.signals:
			if sig == syscall.SIGHUP {
				d.log.Info(logmsg.Signal, "signal", "SIGHUP", "event", "reloading", "config", d.cfg.Path)
				r.request(true)
				continue
			}
			loop.Shutdown(sig.String())
		}
	}
}

// warnNotify logs a failed sd_notify. It runs on the loop goroutine too (watchdog, status), so it never
// waits for the log.
func (d *daemon) warnNotify(err error) {
	if err != nil {
		d.loopLog.Warn(logmsg.Notify, "err", err)
	}
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: every connection is a descriptor.
func raiseFileLimit(log *slog.Logger) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur >= lim.Max {
		return
	}
	old := lim.Cur
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn(logmsg.FileLimit, "event", "cannot raise it", "soft", old, "hard", lim.Max, "err", err)
		return
	}
	log.Debug(logmsg.FileLimit, "event", "raised", "from", old, "to", lim.Max)
}
