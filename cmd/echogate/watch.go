package main

import (
	"log/slog"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"echogate/internal/logmsg"
)

// watchDebounce is how long the config must be quiet after a writer is done before the reload is asked
// for: a Kubernetes ConfigMap swap is a burst of renames and removals, and a save may be followed by a
// chmod or a second writer.
const watchDebounce = 300 * time.Millisecond

// While a directory of the config path is missing (a deploy that renames the directory away before it
// creates the new one), the watches are tried again after watchRetryMin, doubling up to watchRetryMax.
const (
	watchRetryMin = 50 * time.Millisecond
	watchRetryMax = 2 * time.Second
)

// watchConfig watches the config path and calls changed once a writer is done with it: when a file written
// in place is closed (IN_CLOSE_WRITE), when a file is renamed or moved into place (IN_MOVED_TO), when a
// symlink of the chain is swapped (Kubernetes' ..data), or when a directory of the chain was replaced. A
// write alone never counts, so a truncated or half-written file is not read while its writer is still at
// it. Only the config's own names count: a log file beside it cannot cause a reload. The watcher stops
// when stop is closed.
func watchConfig(path string, log *slog.Logger, changed func(), stop <-chan struct{}) error {
	in, err := newInotify()
	if err != nil {
		return err
	}
	w := &configWatch{path: path, log: log, changed: changed, in: in, dirs: map[int32]watchedDir{},
		debounce: stoppedTimer(), retry: stoppedTimer(), backoff: watchRetryMin}
	w.follow(false)
	events := make(chan inotifyBatch, 1)
	go in.readLoop(events, stop)
	go w.run(events, stop)
	return nil
}

// configWatch is the state of the watcher goroutine; only that goroutine touches it.
type configWatch struct {
	path     string
	log      *slog.Logger
	changed  func()
	in       *inotify
	dirs     map[int32]watchedDir // by watch descriptor
	debounce *time.Timer          // runs from the last "writer done" event to the reload request
	retry    *time.Timer          // runs while a directory of the path is missing
	backoff  time.Duration
	lost     bool // the path is incomplete: logged once, and once more when it is back
}

// watchedDir is one watched directory and the names in it that matter.
type watchedDir struct {
	path  string
	names map[string]role
}

func (w *configWatch) run(events <-chan inotifyBatch, stop <-chan struct{}) {
	defer w.in.close()
	for {
		select {
		case <-stop:
			return
		case b := <-events:
			if b.err != nil {
				w.log.Error(logmsg.ConfigWatch, "event", "stopped; reload with SIGHUP", "err", b.err)
				return
			}
			for _, ev := range b.evs {
				w.handle(ev)
			}
		case <-w.retry.C:
			w.follow(true)
		case <-w.debounce.C:
			w.changed()
		}
	}
}

// watchAction is what one event asks of the watcher: a set of these bits.
type watchAction uint8

const (
	actRewatch watchAction = 1 << iota // the chain changed: watch the path anew
	actArm                             // a writer is done: ask for a reload once the config is quiet
	actDisarm                          // a writer is at work: wait for its close
)

// classify decides what an event means for a name of the given roles (0 for a name that does not matter).
// isSymlink tells whether the name now is a symlink; it is asked only for a new entry.
func classify(mask uint32, r role, isSymlink func() bool) watchAction {
	const self = unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_IGNORED | unix.IN_UNMOUNT | unix.IN_Q_OVERFLOW
	switch {
	case mask&self != 0:
		return actRewatch | actArm // a watched directory is gone, or events were lost
	case r == 0:
		return 0
	case mask&unix.IN_MOVED_TO != 0:
		return actRewatch | actArm // renamed into place: complete, and maybe a symlink leading somewhere new
	case mask&unix.IN_CREATE != 0:
		switch {
		case mask&unix.IN_ISDIR != 0 || isSymlink():
			return actRewatch | actArm // a new symlink or directory is complete at once
		case r&roleLink != 0:
			return actRewatch // a file where a symlink was: complete only once it is closed
		}
		return 0 // a new file is complete only once it is closed
	case mask&unix.IN_CLOSE_WRITE != 0:
		return actArm
	case mask&unix.IN_MODIFY != 0:
		return actDisarm
	}
	return 0
}

func (w *configWatch) handle(ev inotifyEvent) {
	d, known := w.dirs[ev.wd]
	if !known && ev.mask&unix.IN_Q_OVERFLOW == 0 {
		return // a watch dropped in an earlier rewatch
	}
	if ev.mask&unix.IN_Q_OVERFLOW != 0 {
		w.log.Warn(logmsg.ConfigWatch, "event", "inotify queue overflowed; checking the config")
	}
	if ev.mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_UNMOUNT) != 0 {
		w.log.Info(logmsg.ConfigWatch, "event", "a directory of the config path was moved or removed; following the path",
			"dir", d.path)
	}
	act := classify(ev.mask, d.names[ev.name], func() bool { return isSymlink(d.path, ev.name) })
	switch {
	case act&actRewatch != 0:
		w.follow(act&actArm != 0)
	case act&actArm != 0:
		w.arm()
	case act&actDisarm != 0:
		w.debounce.Stop()
	}
}

// follow watches the path anew and, with arm, asks for a reload when the config file is there. While the
// path is incomplete it tries again after a bounded back-off, and asks for the reload once it is back.
func (w *configWatch) follow(arm bool) {
	if err := w.rewatch(); err != nil {
		if !w.lost {
			w.log.Warn(logmsg.ConfigWatch, "event", "waiting for the config path to come back", "config", w.path, "err", err)
			w.lost = true
			w.backoff = watchRetryMin
		}
		w.retry.Reset(w.backoff)
		w.backoff = min(2*w.backoff, watchRetryMax)
		return
	}
	if w.lost {
		w.log.Info(logmsg.ConfigWatch, "event", "the config path is back", "config", w.path)
		w.lost, arm = false, true
	}
	if _, err := os.Stat(w.path); err == nil && arm {
		w.arm()
	}
}

func (w *configWatch) arm() { w.debounce.Reset(watchDebounce) }

// rewatch watches the directories the path goes through now and drops the watches of those it no longer
// does. It returns an error when the path is incomplete; what could be watched is watched.
func (w *configWatch) rewatch() error {
	targets, err := resolveWatchTargets(w.path)
	dirs := map[int32]watchedDir{}
	for dir, names := range targets {
		wd, addErr := w.in.add(dir, dirEvents)
		if addErr != nil {
			if err == nil {
				err = addErr
			}
			continue
		}
		d, ok := dirs[wd] // two paths of one directory share a watch
		if !ok {
			d = watchedDir{path: dir, names: map[string]role{}}
			dirs[wd] = d
		}
		for name, r := range names {
			d.names[name] |= r
		}
	}
	for wd := range w.dirs {
		if _, ok := dirs[wd]; !ok {
			w.in.remove(wd)
		}
	}
	w.dirs = dirs
	if err == nil {
		w.retry.Stop()
	}
	return err
}

func isSymlink(dir, name string) bool {
	fi, err := os.Lstat(dir + "/" + name)
	return err == nil && fi.Mode()&os.ModeSymlink != 0
}

// stoppedTimer returns a timer that has not been started.
func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}
