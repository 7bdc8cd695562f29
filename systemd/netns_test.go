package systemd

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// inNetns runs f on an OS thread moved into the network namespace of pid, so that the sockets f opens live
// there: the loopback of a container or of an `unshare -n` child, which the test's own namespace cannot
// reach. The thread stays locked and is discarded when f returns, never reused in the wrong namespace.
func inNetns(pid int, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- os.NewSyscallError("setns", err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// echoTCP sends line to a TCP echo at addr in pid's network namespace and checks that it comes back.
func echoTCP(pid int, addr, line string) error {
	return echoStream(pid, addr, line, func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) })
}

// echoStream is echoTCP over the connection dial makes (in pid's network namespace).
func echoStream(pid int, addr, line string, dial func() (net.Conn, error)) error {
	return inNetns(pid, func() error {
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, line); err != nil {
			return err
		}
		return expectReply(c, addr, line)
	})
}

// echoUDP sends msg to a UDP echo at addr in pid's network namespace and checks the reply, trying three
// times (a datagram may be lost; the first one may also be what starts a socket-activated service).
func echoUDP(pid int, addr, msg string) error {
	return inNetns(pid, func() error {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		for try := 1; ; try++ {
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err = io.WriteString(c, msg); err == nil {
				if err = expectReply(c, addr, msg); err == nil {
					return nil
				}
			}
			if try == 3 {
				return err
			}
		}
	})
}

// expectReply reads len(want) bytes from c and compares them with want.
func expectReply(c net.Conn, addr, want string) error {
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("%s: waiting for the echo of %q: %w", addr, want, err)
	}
	if string(got) != want {
		return fmt.Errorf("%s: sent %q, got %q back", addr, want, got)
	}
	return nil
}
