package main

import (
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce is how long the directory must be quiet before a change is acted on: editors write a file in
// several steps, and a ConfigMap swap is a burst of renames.
const watchDebounce = 300 * time.Millisecond

// watchConfig watches the config file's directory (not the file: rename-saves and symlink swaps replace the
// file's inode, and a watch on the file would be lost) and calls changed after each burst of events. The
// reloader compares the content hash, so events for other files in the directory cost one read.
func watchConfig(path string, log *slog.Logger, changed func(), stop <-chan struct{}) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	dirs := map[string]bool{}
	watchDir := func(dir string) {
		if dirs[dir] {
			return
		}
		if err := w.Add(dir); err != nil {
			log.Warn("config watch: cannot watch directory", "dir", dir, "err", err)
			return
		}
		dirs[dir] = true
	}
	watchDir(filepath.Dir(path))
	if real, err := filepath.EvalSymlinks(path); err == nil {
		watchDir(filepath.Dir(real))
	}
	go func() {
		defer w.Close()
		var fire <-chan time.Time
		for {
			select {
			case <-stop:
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Op == fsnotify.Chmod {
					continue
				}
				fire = time.After(watchDebounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("config watch error", "err", err)
				if errors.Is(err, fsnotify.ErrEventOverflow) {
					fire = time.After(watchDebounce)
				}
			case <-fire:
				fire = nil
				if real, err := filepath.EvalSymlinks(path); err == nil {
					watchDir(filepath.Dir(real)) // a symlink swap may point somewhere new
				}
				changed()
			}
		}
	}()
	return nil
}
