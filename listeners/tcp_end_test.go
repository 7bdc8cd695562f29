package listeners

import (
	"io"
	"testing"
	"time"

	"echogate/config"
)

// TestLineTimeoutLowered: a line begun under a long line_timeout sits far ahead in the line wheel. When a
// reload lowers the limit, the line's next byte must bring the connection forward, so the new limit cuts the
// line about when it says rather than a minute later.
func TestLineTimeoutLowered(t *testing.T) {
	lc := testListener("slow", config.TCP)
	lc.LineTimeout = time.Minute
	l, addrs := startLoop(t, lc)
	c := dialLoop(t, addrs["slow"], 10*time.Second)
	if _, err := io.WriteString(c, "abc"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	old := &config.Config{Daemon: testDaemon(), Listeners: []config.Listener{lc}}
	lc.LineTimeout = time.Second
	next := &config.Config{Daemon: testDaemon(), Listeners: []config.Listener{lc}}
	l.Call(func() { l.Apply(next.Daemon, config.Plan(old, next), nil) })
	if _, err := io.WriteString(c, "d"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second)) // well short of the minute the line first had
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "ERR line-timeout\n" {
		t.Fatalf("got %q, then %v; want \"ERR line-timeout\\n\" and EOF", got, err)
	}
	if n := l.Snapshot().Listeners["slow"].LineTimeouts; n != 1 {
		t.Fatalf("line_timeouts = %d, want 1", n)
	}
}
