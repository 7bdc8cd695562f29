package listeners

import (
	"io"
	"testing"
	"time"

	"echogate/config"
)

// The agent answers one line for the state and the listeners it watches, then closes, on the real loop.
func TestAgentProtocol(t *testing.T) {
	agent := testListener("agent", config.TCP)
	agent.Mode, agent.AgentListeners, agent.AgentWeight = config.ModeAgent, []string{"web", "udp"}, 75
	l, addrs := startLoop(t, agent, testListener("web", config.TCP), testListener("udp", config.UDP))
	for _, tc := range []struct {
		name, state string
		paused      bool // the watched TCP listener is out of the epoll set (EMFILE back-off)
		want        string
	}{
		{"ready", config.StateReady, false, "up ready 75%\n"},
		{"drain", config.StateDrain, false, "drain\n"},
		{"maint", config.StateMaint, false, "maint\n"},
		{"a watched listener not serving", config.StateReady, true, "down #listener web is not serving\n"},
		{"drain while not serving", config.StateDrain, true, "down #listener web is not serving\n"},
		{"maint wins over down", config.StateMaint, true, "maint\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.SetState(tc.state, time.Second)
			l.Call(func() { l.tcp["web"].paused = tc.paused })
			c := dialLoop(t, addrs["agent"], 5*time.Second)
			_, _ = io.WriteString(c, "hello from haproxy\n") // agent-send: read and dropped
			got, err := io.ReadAll(c)
			if string(got) != tc.want || err != nil {
				t.Fatalf("read %q (%v), want %q then EOF", got, err, tc.want)
			}
		})
	}
	l.Call(func() { l.tcp["web"].paused = false })
	if n := l.Snapshot().Listeners["agent"].HealthChecks; n != 6 {
		t.Fatalf("health_checks %d, want 6", n)
	}
}

// A reload applies [daemon] state only when it differs from the config before: a state set at run time
// outlives reloads that leave the key alone.
func TestConfigStateOnReload(t *testing.T) {
	d := testDaemon()
	d.State = config.StateReady
	l, _ := startLoopWith(t, Options{}, d, testListener("a", config.TCP))
	state := func() string { return l.Snapshot().State }
	apply := func(s string) {
		d.State = s
		l.Call(func() { l.setDaemon(d) })
	}
	if was, ok := l.SetState(config.StateDrain, time.Second); !ok || was != config.StateReady || state() != config.StateDrain {
		t.Fatalf("SetState: was %q, now %q", was, state())
	}
	apply(config.StateReady) // unchanged in the file
	if got := state(); got != config.StateDrain {
		t.Fatalf("after a reload that keeps state = ready: %q, want drain", got)
	}
	apply(config.StateMaint)
	if got := state(); got != config.StateMaint {
		t.Fatalf("after a reload to maint: %q", got)
	}
	apply(config.StateReady)
	if got := state(); got != config.StateReady {
		t.Fatalf("after a reload back to ready: %q", got)
	}
}

// The loop's histograms count without allocating.
func TestLoopHistNoAlloc(t *testing.T) {
	h := loopHist{bounds: &busyBounds}
	if n := testing.AllocsPerRun(100, func() { h.observe(3000) }); n != 0 {
		t.Fatalf("%v allocations per observe", n)
	}
	s := h.snapshot()
	if s.Count != 101 || s.Counts[1] != 101 { // 3 µs is in the (1 µs, 5 µs] bucket
		t.Fatalf("snapshot %+v", s)
	}
}
