package systemd

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Notifier speaks the sd_notify protocol over $NOTIFY_SOCKET, a unix datagram socket ('@' starts an
// abstract name). A nil or zero Notifier, or one made without NOTIFY_SOCKET, does nothing. It is safe
// for concurrent use: each message is one datagram from a fresh socket.
type Notifier struct {
	path string
}

// NewNotifier reads NOTIFY_SOCKET once and unsets it, so children do not inherit it.
func NewNotifier() *Notifier {
	path := os.Getenv("NOTIFY_SOCKET")
	os.Unsetenv("NOTIFY_SOCKET")
	return &Notifier{path: path}
}

// Enabled reports whether messages go anywhere.
func (n *Notifier) Enabled() bool {
	return n != nil && n.path != ""
}

// Ready tells systemd that startup or a reload has finished: "READY=1\nSTATUS=status".
func (n *Notifier) Ready(status string) error {
	return n.send("READY=1", status)
}

// Reloading tells systemd that a reload started: "RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC µs>\nSTATUS=status".
// Type=notify-reload needs MONOTONIC_USEC, and Ready must follow when the reload ends.
func (n *Notifier) Reloading(status string) error {
	if !n.Enabled() {
		return nil
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return fmt.Errorf("sd_notify: %w", os.NewSyscallError("clock_gettime", err))
	}
	usec := ts.Sec*1_000_000 + ts.Nsec/1_000
	return n.send("RELOADING=1\nMONOTONIC_USEC="+strconv.FormatInt(usec, 10), status)
}

// Stopping tells systemd that shutdown started: "STOPPING=1\nSTATUS=status".
func (n *Notifier) Stopping(status string) error {
	return n.send("STOPPING=1", status)
}

// Status sets the one-line status systemctl shows: "STATUS=status" (an empty status clears it).
func (n *Notifier) Status(status string) error {
	if !n.Enabled() {
		return nil
	}
	return n.write("STATUS=" + oneLine(status))
}

// Watchdog sends the keep-alive ping "WATCHDOG=1".
func (n *Notifier) Watchdog() error {
	return n.send("WATCHDOG=1", "")
}

// send writes state, followed by a STATUS line when status is not empty.
func (n *Notifier) send(state, status string) error {
	if !n.Enabled() {
		return nil
	}
	if status != "" {
		state += "\nSTATUS=" + oneLine(status)
	}
	return n.write(state)
}

// write sends msg as one datagram to the notify socket without ever blocking.
func (n *Notifier) write(msg string) error {
	if n.path[0] != '/' && n.path[0] != '@' {
		return fmt.Errorf("sd_notify: NOTIFY_SOCKET=%q: not a unix socket path", n.path)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sd_notify: %w", os.NewSyscallError("socket", err))
	}
	defer unix.Close(fd)
	// x/sys turns a leading '@' into the NUL byte of an abstract address.
	err = unix.Sendto(fd, []byte(msg), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, &unix.SockaddrUnix{Name: n.path})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.path, os.NewSyscallError("sendto", err))
	}
	return nil
}

// oneLine keeps a status to one line, so it cannot add fields to the message.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
