package listeners

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// waker is the eventfd in the epoll set that other goroutines write to when they queue work for the loop.
type waker struct {
	fd  int
	buf [8]byte
}

func newWaker() (*waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	return &waker{fd: fd}, nil
}

// signal wakes the loop. A full counter (EAGAIN) already means "wake up", so errors are ignored.
func (w *waker) signal() {
	one := [8]byte{1}
	_, _ = unix.Write(w.fd, one[:])
}

func (w *waker) onEvent(l *Loop, _ uint32) {
	for {
		_, err := unix.Read(w.fd, w.buf[:])
		if err == nil || errors.Is(err, unix.EINTR) {
			continue
		}
		break
	}
	l.drainQueue()
}

func (w *waker) shutdown(*Loop, bool) {}

func (w *waker) close() { unix.Close(w.fd) }
