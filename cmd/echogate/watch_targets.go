package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// role says why a name in a watched directory matters to the config watcher.
type role uint8

const (
	roleFile role = 1 << iota // the config file itself, at the end of the symlink chain
	roleLink                  // a symlink on the way to it (echogate.toml -> ..data/echogate.toml, ..data -> ..v1)
	roleDir                   // the config's directory, seen from its parent: a replaced directory is followed
)

// watchTargets maps each directory the config watcher watches to the names in it that matter. Events for
// every other name (a log file beside the config, an editor's swap file) are ignored.
type watchTargets map[string]map[string]role

func (t watchTargets) add(dir, name string, r role) {
	if t[dir] == nil {
		t[dir] = map[string]role{}
	}
	t[dir][name] |= r
}

// addDir notes dir as a name in its parent, so that a directory renamed or created in its place is seen.
func (t watchTargets) addDir(dir string) {
	if parent := filepath.Dir(dir); parent != dir {
		t.add(parent, filepath.Base(dir), roleDir)
	}
}

// maxSymlinks is the kernel's limit on symlinks followed in one path lookup (MAXSYMLINKS).
const maxSymlinks = 40

// resolveWatchTargets walks the absolute path one component at a time, as the kernel does, and returns
// what to watch: every symlink met on the way (in the real directory that holds it), the file at the end,
// and the directories that hold the path's name and the file. The error says the walk stopped early (a
// directory of the chain does not exist, for example while it is being replaced); the targets found up to
// there are still returned, to be watched meanwhile.
func resolveWatchTargets(path string) (watchTargets, error) {
	t := watchTargets{}
	todo := splitPath(path)
	last := len(todo) // the path's own last component is still unresolved while len(todo) >= 1
	done, links := "/", 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		if c == ".." {
			done = filepath.Dir(done)
			continue
		}
		if len(todo) == 0 && last > 0 {
			t.addDir(done) // the real directory holding the path's own name
			last = 0
		}
		next := filepath.Join(done, c)
		fi, err := os.Lstat(next)
		if err != nil {
			if len(todo) == 0 && errors.Is(err, fs.ErrNotExist) {
				t.add(done, c, roleFile) // the file is missing, its directory is not: wait there
				t.addDir(done)
				return t, nil
			}
			t.add(done, c, roleDir)
			return t, fmt.Errorf("config path %s: %w", path, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(todo) == 0 {
				t.add(done, c, roleFile)
				t.addDir(done)
				return t, nil
			}
			done = next
			continue
		}
		if links++; links > maxSymlinks {
			return t, fmt.Errorf("config path %s: more than %d symlinks", path, maxSymlinks)
		}
		target, err := os.Readlink(next)
		if err != nil {
			return t, fmt.Errorf("config path %s: %w", path, err)
		}
		t.add(done, c, roleLink)
		if filepath.IsAbs(target) {
			done = "/"
		}
		todo = append(splitPath(target), todo...)
	}
	return t, fmt.Errorf("config path %s: names a directory", path)
}

// splitPath returns the components of a path without empty and "." ones.
func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}
