package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// inotify is a thin wrapper of one inotify instance. echogate speaks inotify directly rather than through
// fsnotify because it needs IN_CLOSE_WRITE ("a writer is done"), which fsnotify v1.10.1 handles but does not
// export.
//
// The descriptor is non-blocking and wrapped in an *os.File, so a read parks in the Go runtime's poller
// instead of a thread, and closing the file wakes a blocked read: that is how the reader stops.
type inotify struct {
	fd int
	f  *os.File
}

// dirEvents is what the config watcher asks of a directory: the events that say a writer is done with a
// name (close after write, a rename or a new symlink), the one that says a writer is at work (modify), and
// the directory's own removal or move. IN_EXCL_UNLINK leaves out files that are already unlinked.
const dirEvents = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_MODIFY |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK

// inotifyEvent is one decoded event: the watch it belongs to, its mask and, for an event about an entry of a
// watched directory, the entry's name.
type inotifyEvent struct {
	wd   int32
	mask uint32
	name string
}

func newInotify() (*inotify, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	return &inotify{fd: fd, f: os.NewFile(uintptr(fd), "inotify")}, nil
}

// add watches dir (following symlinks) with mask and returns the watch descriptor; a directory watched
// already, under this name or another, gets its existing descriptor and the new mask.
func (in *inotify) add(dir string, mask uint32) (int32, error) {
	wd, err := unix.InotifyAddWatch(in.fd, dir, mask)
	if err != nil {
		return -1, fmt.Errorf("watch %s: %w", dir, os.NewSyscallError("inotify_add_watch", err))
	}
	return int32(wd), nil
}

// remove drops a watch. The kernel may have dropped it already (the directory was removed), so an error is
// of no interest.
func (in *inotify) remove(wd int32) {
	_, _ = unix.InotifyRmWatch(in.fd, uint32(wd))
}

// close ends the instance and wakes a blocked read.
func (in *inotify) close() {
	_ = in.f.Close()
}

// readLoop reads events and sends them to out until the instance is closed or done is closed. A read that
// fails for another reason is sent as an error, and ends the loop.
func (in *inotify) readLoop(out chan<- inotifyBatch, done <-chan struct{}) {
	buf := make([]byte, 64<<10) // room for about 2000 events of short names
	for {
		var batch inotifyBatch
		n, err := in.f.Read(buf)
		switch {
		case errors.Is(err, os.ErrClosed):
			return
		case err != nil:
			batch.err = fmt.Errorf("read inotify events: %w", err)
		default:
			if batch.evs, err = parseInotify(buf[:n]); err != nil {
				// Events were lost: an overflow makes the watcher start over.
				batch.evs = append(batch.evs, inotifyEvent{wd: -1, mask: unix.IN_Q_OVERFLOW})
			}
		}
		select {
		case out <- batch:
		case <-done:
			return
		}
		if batch.err != nil {
			return
		}
	}
}

// inotifyBatch is the result of one read.
type inotifyBatch struct {
	evs []inotifyEvent
	err error
}

// parseInotify decodes the records of one read: struct inotify_event (wd, mask, cookie, len) in native byte
// order, each followed by len bytes of NUL-padded name.
func parseInotify(b []byte) ([]inotifyEvent, error) {
	var evs []inotifyEvent
	for len(b) > 0 {
		if len(b) < unix.SizeofInotifyEvent {
			return evs, fmt.Errorf("inotify: %d stray bytes after the last event", len(b))
		}
		ev := inotifyEvent{
			wd:   int32(binary.NativeEndian.Uint32(b[0:4])),
			mask: binary.NativeEndian.Uint32(b[4:8]),
		}
		nameLen := int(binary.NativeEndian.Uint32(b[12:16]))
		b = b[unix.SizeofInotifyEvent:]
		if nameLen > len(b) {
			return evs, fmt.Errorf("inotify: event name of %d bytes in %d left", nameLen, len(b))
		}
		ev.name = strings.TrimRight(string(b[:nameLen]), "\x00")
		b = b[nameLen:]
		evs = append(evs, ev)
	}
	return evs, nil
}
