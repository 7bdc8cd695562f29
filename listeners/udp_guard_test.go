package listeners

import (
	"net/netip"
	"slices"
	"testing"

	"echogate/config"
)

func TestReplyBudget(t *testing.T) {
	for _, tc := range []struct {
		size int
		src  string
		want int
	}{
		{0, "127.0.0.1:5000", 56},               // an empty datagram: 28 bytes on the wire, 84 allowed
		{5, "127.0.0.1:5000", 71},               // "/time": its 20-byte reply fits
		{11, "127.0.0.1:5000", 89},              // "/stats json": no reply of a listener fits
		{5, "[::1]:5000", 111},                  // IPv6 headers are 48 bytes
		{5, "[::ffff:127.0.0.1]:5000", 111},     // the caller unmaps: as given, this is IPv6
		{65507, "127.0.0.1:5000", 3*65507 + 56}, // more than any datagram: the buffer bounds it
	} {
		if got := replyBudget(tc.size, netip.MustParseAddrPort(tc.src)); got != tc.want {
			t.Errorf("replyBudget(%d, %s) = %d, want %d", tc.size, tc.src, got, tc.want)
		}
	}
}

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
