package echotest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Routed is a client network namespace reached from the test's own namespace through a router namespace that
// forwards between two veth pairs, so that what the client sends crosses a real IP hop:
//
//	test (server) 10.1.0.1 ── 10.1.0.2 router 10.2.0.2 ── 10.2.0.1 client
//
// The router decrements the TTL; Router runs commands there (an iptables mangle rule). It needs a test in a
// namespace of its own (InNetns), ip and nsenter.
type Routed struct {
	ServerIP string // the test namespace's address the client reaches
	ClientIP string
	// the PIDs, as text, of the processes that hold the router's and the client's namespaces
	routerNS, clientNS string
}

// NeedRouting skips a test where the namespaces of NewRouted cannot be made: without root, ip, nsenter or
// unshare. Call it before InNetns, so that the skip is the test's own.
func NeedRouting(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	for _, tool := range []string{"ip", "nsenter", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// NewRouted builds the router and client namespaces, torn down when the test ends.
func NewRouted(t *testing.T) *Routed {
	t.Helper()
	r := &Routed{ServerIP: "10.1.0.1", ClientIP: "10.2.0.1", routerNS: strconv.Itoa(holdNetns(t)),
		clientNS: strconv.Itoa(holdNetns(t))}
	run(t, "ip", "link", "set", "lo", "up")
	run(t, "ip", "link", "add", "vs", "type", "veth", "peer", "name", "vr1", "netns", r.routerNS)
	run(t, "ip", "link", "add", "vc", "type", "veth", "peer", "name", "vr2", "netns", r.routerNS)
	run(t, "ip", "link", "set", "vc", "netns", r.clientNS)
	run(t, "ip", "addr", "add", "10.1.0.1/24", "dev", "vs")
	run(t, "ip", "link", "set", "vs", "up")
	run(t, "ip", "route", "add", "10.2.0.0/24", "via", "10.1.0.2")
	for _, args := range [][]string{{"ip", "addr", "add", "10.1.0.2/24", "dev", "vr1"},
		{"ip", "addr", "add", "10.2.0.2/24", "dev", "vr2"}, {"ip", "link", "set", "vr1", "up"},
		{"ip", "link", "set", "vr2", "up"}, {"sysctl", "-qw", "net.ipv4.ip_forward=1"}} {
		r.Router(t, args...)
	}
	for _, args := range [][]string{{"ip", "addr", "add", "10.2.0.1/24", "dev", "vc"}, {"ip", "link", "set", "vc", "up"},
		{"ip", "route", "add", "default", "via", "10.2.0.2"}} {
		run(t, "nsenter", append([]string{"-t", r.clientNS, "-n"}, args...)...)
	}
	return r
}

// Router runs a command in the router's namespace and fails the test if it fails.
func (r *Routed) Router(t *testing.T, args ...string) {
	t.Helper()
	run(t, "nsenter", append([]string{"-t", r.routerNS, "-n"}, args...)...)
}

// RouterErr is Router returning the error, for a command that may be missing (iptables).
func (r *Routed) RouterErr(args ...string) error {
	out, err := exec.Command("nsenter", append([]string{"-t", r.routerNS, "-n"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %v: %s", args, err, out)
	}
	return nil
}

// Dial connects to addr over TCP from the client namespace, with o's options. The socket is made on an OS
// thread moved into that namespace, which then ends: the connection stays in the namespace it was made in.
func (r *Routed) Dial(t *testing.T, addr string, o DialOptions) net.Conn {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread, in the wrong namespace, ends with the goroutine
		fd, err := unix.Open("/proc/"+r.clientNS+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			_ = unix.Close(fd)
		}
		if err != nil {
			done <- result{nil, fmt.Errorf("enter the client namespace: %w", err)}
			return
		}
		c, err := DialErr(addr, o)
		done <- result{c, err}
	}()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	t.Cleanup(func() { _ = res.c.Close() })
	return res.c
}

// holdNetns starts a process in a new network namespace and returns its PID; it is killed, by that PID, when
// the test ends.
func holdNetns(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("unshare", "-n", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ns := fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)
	self, _ := os.Readlink("/proc/self/ns/net")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if link, err := os.Readlink(ns); err == nil && link != self {
			return cmd.Process.Pid // unshare has exec'd sleep in the new namespace
		}
	}
	t.Fatalf("unshare -n did not enter a new namespace")
	return 0
}

// run runs a command and fails the test if it fails.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}
