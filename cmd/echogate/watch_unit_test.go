package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"echogate/internal/echotest"

	"golang.org/x/sys/unix"
)

// What each event means for each kind of name: only a finished writer arms the reload, a write disarms it,
// and a changed chain is watched anew.
func TestClassifyEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mask    uint32
		role    role
		symlink bool
		want    watchAction
	}{
		{"close after write", unix.IN_CLOSE_WRITE, roleFile, false, actArm},
		{"truncate or write", unix.IN_MODIFY, roleFile, false, actDisarm},
		{"renamed into place", unix.IN_MOVED_TO, roleFile, false, actRewatch | actArm},
		{"new empty file", unix.IN_CREATE, roleFile, false, 0},
		{"new symlink as the file", unix.IN_CREATE, roleFile, true, actRewatch | actArm},
		{"..data swapped", unix.IN_MOVED_TO, roleLink, true, actRewatch | actArm},
		{"symlink created", unix.IN_CREATE, roleLink, true, actRewatch | actArm},
		{"file created where a symlink was", unix.IN_CREATE, roleLink, false, actRewatch},
		{"directory moved in place", unix.IN_MOVED_TO | unix.IN_ISDIR, roleDir, false, actRewatch | actArm},
		{"directory created", unix.IN_CREATE | unix.IN_ISDIR, roleDir, false, actRewatch | actArm},
		{"watched directory moved", unix.IN_MOVE_SELF, 0, false, actRewatch | actArm},
		{"watched directory removed", unix.IN_DELETE_SELF, 0, false, actRewatch | actArm},
		{"watch dropped", unix.IN_IGNORED, 0, false, actRewatch | actArm},
		{"queue overflow", unix.IN_Q_OVERFLOW, 0, false, actRewatch | actArm},
		{"a neighbour closed", unix.IN_CLOSE_WRITE, 0, false, 0},
		{"a neighbour written", unix.IN_MODIFY, 0, false, 0},
		{"a neighbour renamed", unix.IN_MOVED_TO, 0, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.mask, tc.role, func() bool { return tc.symlink }); got != tc.want {
				t.Errorf("classify(%#x, %d) = %d, want %d", tc.mask, tc.role, got, tc.want)
			}
		})
	}
}

// The watch targets follow the symlink chain to the file, with the directories that hold each link and the
// file, and the parents that see those directories replaced.
func TestResolveWatchTargets(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mkdir := func(p string) {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	mkdir("plain")
	echotest.SaveInPlace(t, filepath.Join(root, "plain", "echogate.toml"), "")
	mkdir("k8s/..v001")
	echotest.SaveInPlace(t, filepath.Join(root, "k8s", "..v001", "echogate.toml"), "")
	symlink("..v001", "k8s/..data")
	symlink("..data/echogate.toml", "k8s/echogate.toml")
	symlink(filepath.Join(root, "plain"), "linked")
	mkdir("empty")
	for _, tc := range []struct {
		name, path string
		want       watchTargets
		complete   bool
	}{
		{"plain file", "plain/echogate.toml", watchTargets{
			root + "/plain": {"echogate.toml": roleFile},
			root:            {"plain": roleDir},
		}, true},
		{"ConfigMap", "k8s/echogate.toml", watchTargets{
			root + "/k8s":        {"echogate.toml": roleLink, "..data": roleLink, "..v001": roleDir},
			root + "/k8s/..v001": {"echogate.toml": roleFile},
			root:                 {"k8s": roleDir},
		}, true},
		{"linked directory", "linked/echogate.toml", watchTargets{
			root:            {"linked": roleLink, "plain": roleDir},
			root + "/plain": {"echogate.toml": roleFile},
		}, true},
		{"missing file", "empty/echogate.toml", watchTargets{
			root + "/empty": {"echogate.toml": roleFile},
			root:            {"empty": roleDir},
		}, true},
		{"missing directory", "gone/echogate.toml", watchTargets{
			root: {"gone": roleDir},
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveWatchTargets(filepath.Join(root, tc.path))
			if (err == nil) != tc.complete {
				t.Errorf("error %v, want complete=%v", err, tc.complete)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("targets\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// A read of inotify records decodes into events with their names, NUL padding removed.
func TestParseInotify(t *testing.T) {
	t.Parallel()
	record := func(wd int32, mask uint32, name string, pad int) []byte {
		b := make([]byte, unix.SizeofInotifyEvent, unix.SizeofInotifyEvent+len(name)+pad)
		binary.NativeEndian.PutUint32(b[0:], uint32(wd))
		binary.NativeEndian.PutUint32(b[4:], mask)
		binary.NativeEndian.PutUint32(b[12:], uint32(len(name)+pad))
		b = append(b, name...)
		return append(b, make([]byte, pad)...)
	}
	buf := append(record(1, unix.IN_CLOSE_WRITE, "echogate.toml", 3), record(2, unix.IN_MOVE_SELF, "", 0)...)
	got, err := parseInotify(buf)
	want := []inotifyEvent{{1, unix.IN_CLOSE_WRITE, "echogate.toml"}, {2, unix.IN_MOVE_SELF, ""}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("parse: %v %v, want %v", got, err, want)
	}
	if _, err := parseInotify(buf[:len(buf)-4]); err == nil {
		t.Error("a cut record was accepted")
	}
	if _, err := parseInotify(record(1, unix.IN_CREATE, "abcdefgh", 0)[:20]); err == nil {
		t.Error("a name longer than the read was accepted")
	}
}
