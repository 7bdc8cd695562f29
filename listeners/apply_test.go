package listeners

import (
	"bufio"
	"io"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
)

// reloadLoop plans old → next, prepares it as the daemon does (sockets and policies off the loop) and applies
// it on the loop.
func reloadLoop(t *testing.T, l *Loop, old, next []config.Listener) Result {
	t.Helper()
	plan := config.Plan(&config.Config{Daemon: testDaemon(), Listeners: old}, &config.Config{Daemon: testDaemon(), Listeners: next})
	binds, err := Prepare(plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	l.Call(func() { res = l.Apply(testDaemon(), plan, binds) })
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	return res
}

// TestLoopReloadPreparedPolicy changes max_line with a policy built by Prepare: the open connection sees it.
func TestLoopReloadPreparedPolicy(t *testing.T) {
	lc := testListener("diag", config.TCP)
	l, addrs := startLoop(t, lc)
	c := dialLoop(t, addrs["diag"], 5*time.Second)
	r := bufio.NewReader(c)
	changed := lc
	changed.MaxLine = 3
	if res := reloadLoop(t, l, []config.Listener{lc}, []config.Listener{changed}); res.Changed != 1 || res.Carried != 1 {
		t.Fatalf("reload result %+v, want one changed listener carrying one connection", res)
	}
	io.WriteString(c, "abcd\nabc\n")
	for _, want := range []string{"ERR too-long-line\n", "abc\n"} {
		if got, err := r.ReadString('\n'); got != want {
			t.Fatalf("got %q (%v), want %q", got, err, want)
		}
	}
	if res := reloadLoop(t, l, []config.Listener{changed}, []config.Listener{changed}); res.Kept != 1 || res.Changed != 0 {
		t.Fatalf("reload with nothing changed: %+v, want one kept listener", res)
	}
	io.WriteString(c, "abcd\n")
	if got, err := r.ReadString('\n'); got != "ERR too-long-line\n" {
		t.Fatalf("after a reload that keeps the listener: got %q (%v), want the limit still applied", got, err)
	}
}

// TestLoopReloadBacklog checks that a changed backlog reaches the live socket. For a listening socket, Linux
// reports the backlog in TCP_INFO's tcpi_sacked.
func TestLoopReloadBacklog(t *testing.T) {
	lc := testListener("diag", config.TCP)
	l, _ := startLoop(t, lc)
	backlog := func() uint32 {
		var fd int
		l.Call(func() { fd = l.tcp["diag"].fd })
		info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			t.Fatal(err)
		}
		return info.Sacked
	}
	if got := backlog(); got != config.DefaultBacklog {
		t.Fatalf("backlog %d at start, want %d", got, config.DefaultBacklog)
	}
	changed := lc
	changed.Backlog = 7
	reloadLoop(t, l, []config.Listener{lc}, []config.Listener{changed})
	if got := backlog(); got != 7 {
		t.Fatalf("backlog %d after the reload, want 7", got)
	}
}
