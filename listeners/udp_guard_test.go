package listeners

import (
	"net/netip"
	"slices"
	"testing"

	"echogate/config"
)

// TestListenersChangedOwnSockets checks that the own-socket rule follows the UDP listeners through reloads.
func TestListenersChangedOwnSockets(t *testing.T) {
	a, b := testListener("a", config.UDP), testListener("b", config.UDP)
	l, addrs := startLoop(t, a, b)
	own := func(name string) (in bool) {
		l.Call(func() { in = l.guards.own.Contains(netip.MustParseAddrPort(addrs[name])) })
		return in
	}
	if !own("a") || !own("b") {
		t.Fatalf("own sockets: a %v, b %v; want both", own("a"), own("b"))
	}
	old := &config.Config{Daemon: testDaemon(), Listeners: []config.Listener{a, b}}
	next := &config.Config{Daemon: testDaemon(), Listeners: []config.Listener{a}}
	l.Call(func() { l.Apply(next.Daemon, config.Plan(old, next), nil) })
	if !own("a") || own("b") {
		t.Errorf("after b was removed: a %v, b %v; want a only", own("a"), own("b"))
	}
}

func TestHostAddrs(t *testing.T) {
	addrs, err := hostAddrs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(addrs, netip.MustParseAddr("127.0.0.1")) || !slices.IsSortedFunc(addrs, netip.Addr.Compare) {
		t.Errorf("hostAddrs() = %v, want a sorted list with 127.0.0.1", addrs)
	}
}
