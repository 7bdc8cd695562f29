package systemd

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// notifySocket binds a unix datagram socket at path (a leading '@' makes it abstract) and points
// NOTIFY_SOCKET at it.
func notifySocket(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

// receive reads one notify datagram.
func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotifier(t *testing.T) {
	for _, path := range []string{"file", "@abstract"} {
		t.Run(path, func(t *testing.T) {
			if path == "file" {
				path = filepath.Join(t.TempDir(), "notify")
			} else {
				path = fmt.Sprintf("@echogate-test-%d-%d", os.Getpid(), time.Now().UnixNano())
			}
			c := notifySocket(t, path)
			n := NewNotifier()
			if _, ok := os.LookupEnv("NOTIFY_SOCKET"); ok || !n.Enabled() {
				t.Fatalf("after NewNotifier: NOTIFY_SOCKET still set %v, Enabled %v", ok, n.Enabled())
			}
			for _, tc := range []struct {
				send func() error
				want string
			}{
				{func() error { return n.Ready("3 listeners") }, "READY=1\nSTATUS=3 listeners"},
				{func() error { return n.Ready("") }, "READY=1"},
				{func() error { return n.Stopping("draining 2 connections") }, "STOPPING=1\nSTATUS=draining 2 connections"},
				{func() error { return n.Status("reload failed:\nline 3") }, "STATUS=reload failed: line 3"},
				{func() error { return n.Status("") }, "STATUS="},
				{n.Watchdog, "WATCHDOG=1"},
			} {
				if err := tc.send(); err != nil {
					t.Fatal(err)
				}
				if got := receive(t, c); got != tc.want {
					t.Errorf("got %q; want %q", got, tc.want)
				}
			}
			before := echotest.MonotonicUsec(t)
			if err := n.Reloading("reloading"); err != nil {
				t.Fatal(err)
			}
			after := echotest.MonotonicUsec(t)
			lines := strings.Split(receive(t, c), "\n")
			if len(lines) != 3 || lines[0] != "RELOADING=1" || lines[2] != "STATUS=reloading" ||
				!strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
				t.Fatalf("Reloading sent %q", lines)
			}
			usec, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
			if err != nil || usec < before || usec > after {
				t.Errorf("MONOTONIC_USEC=%d (%v); want within [%d, %d]", usec, err, before, after)
			}
		})
	}
}

func TestNotifierDisabled(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	var zero Notifier
	for name, n := range map[string]*Notifier{"nil": nil, "zero": &zero, "unset": NewNotifier()} {
		if n.Enabled() {
			t.Errorf("%s: Enabled", name)
		}
		for _, err := range []error{n.Ready("x"), n.Reloading("x"), n.Stopping("x"), n.Status("x"), n.Watchdog()} {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

func TestNotifierErrors(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"relative/path", "not a unix socket path"},
		{filepath.Join(t.TempDir(), "missing"), "sendto"},
	} {
		t.Setenv("NOTIFY_SOCKET", tc.path)
		if err := NewNotifier().Ready(""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NOTIFY_SOCKET=%q: error %v; want %q", tc.path, err, tc.want)
		}
	}
}
