package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// writePIDFile records our PID at path for `echogate reload`, without ever following a symlink there: a link
// planted at path (in a directory others may write) would otherwise have the daemon, often root, overwrite
// the file it points at. The PID goes into a new temporary file beside path, created with O_EXCL|O_NOFOLLOW,
// which is then renamed over path; rename replaces a symlink itself, not its target.
func writePIDFile(path string) error {
	if path == "" {
		return nil
	}
	dir, base := filepath.Split(path)
	var (
		f   *os.File
		tmp string
		err error
	)
	for range 10 { // a clash on a random name is unlikely; ten in a row is something else
		tmp = filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64(), 36))
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
		if !os.IsExist(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("pid_file %s: %w", path, err)
	}
	_, err = io.WriteString(f, strconv.Itoa(os.Getpid())+"\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("pid_file %s: %w", path, err)
	}
	return nil
}

// removePIDFile removes the pid_file at exit, but only while it still holds our PID: a daemon started after
// us (or an admin) may have written its own there, and that one must stay.
func removePIDFile(path string) {
	if path == "" {
		return
	}
	if pid, err := readPIDFile(path); err == nil && pid == os.Getpid() {
		_ = os.Remove(path)
	}
}

// readPIDFile returns the PID recorded at path. It wants a regular file holding one PID, and reads at most 64
// bytes of it without blocking on a FIFO. Reading through a symlink is harmless, so it is allowed.
func readPIDFile(path string) (int, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return 0, fmt.Errorf("pid_file: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return 0, fmt.Errorf("pid_file %s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return 0, fmt.Errorf("pid_file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid_file %s: no valid PID in it", path)
	}
	return pid, nil
}
