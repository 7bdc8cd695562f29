package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestLoadRefusesOddFiles checks the files Load must refuse before reading them whole: a FIFO (which would
// block open(2) until a writer came), a device, a directory and anything over MaxConfigSize.
func TestLoadRefusesOddFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.toml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	sparse := func(name string, size int64) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(tcp), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
		return path
	}
	huge := sparse("huge.toml", 1<<30)
	over := sparse("over.toml", MaxConfigSize+1)
	atLimit := sparse("limit.toml", MaxConfigSize)

	for _, tc := range []struct{ name, path, want string }{
		{"fifo", fifo, fifo + ": read config: not a regular file: it is a named pipe (FIFO)"},
		{"symlink to /dev/zero", zero, zero + ": read config: not a regular file: it is a character device"},
		{"directory", dir, dir + ": read config: not a regular file: it is a directory"},
		{"sparse 1 GiB", huge, huge + ": read config: the file is 1073741824 bytes, over the limit of 16777216 (16 MiB)"},
		{"one byte over", over, over + ": read config: the file is " + strconv.Itoa(MaxConfigSize+1) +
			" bytes, over the limit of 16777216 (16 MiB)"},
		// At the limit the file is read and decoded: the NUL bytes after the listener are a TOML error.
		{"at the limit", atLimit, atLimit + ":4:27: TOML files cannot contain control characters: '0x00'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.path)
			if got := errString(err); got != tc.want {
				t.Errorf("error:\n got %s\nwant %s", got, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("got %T, want an *Error (alone or in Errors)", err)
			}
		})
	}
}
