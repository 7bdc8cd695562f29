package listeners

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"echogate/config"
)

func TestRefusalSummaries(t *testing.T) {
	const every = int64(10 * time.Second)
	sec := func(s float64) int64 { return int64(s * float64(time.Second)) }
	peer := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("10.1.2.3"), port) }
	// step is one call: a refusal (why set) or a flush at `at`, with the lines that flush must emit.
	type step struct {
		at       float64
		listener string
		why      reason
		port     uint16
		want     string // flush only: the emitted lines, "listener/reason/count/port" joined by spaces
		next     float64
		none     bool // flush only: nothing is left in the table
	}
	refuse := func(listener string, why reason, port uint16) step {
		return step{listener: listener, why: why, port: port}
	}
	flush := func(at float64, want string, next float64) step { return step{at: at, want: want, next: next} }
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"first refusal of a key is due at once", []step{
			refuse("diag", reasonCIDR, 1), refuse("diag", reasonCIDR, 2),
			flush(0, "diag/cidr/2/2", 10),
		}},
		{"one line per interval, carrying the count", []step{
			refuse("diag", reasonCIDR, 1), flush(0, "diag/cidr/1/1", 10),
			refuse("diag", reasonCIDR, 2), refuse("diag", reasonCIDR, 3),
			flush(5, "", 10),
			refuse("diag", reasonCIDR, 4),
			flush(10, "diag/cidr/3/4", 20),
		}},
		{"listeners and reasons are summarised apart", []step{
			refuse("a", reasonBusy, 1), refuse("b", reasonBusy, 2), refuse("a", reasonToken, 3),
			refuse("a", reasonBusy, 4),
			flush(0, "a/busy/2/4 b/busy/1/2 a/token/1/3", 10),
		}},
		{"a key quiet for an interval is forgotten, then logs at once again", []step{
			refuse("diag", reasonRate, 1), flush(0, "diag/rate/1/1", 10),
			{at: 10, none: true},
			refuse("diag", reasonRate, 2), flush(12, "diag/rate/1/2", 22),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s refusals
			for i, st := range tc.steps {
				if st.listener != "" {
					s.note(st.listener, st.why, peer(st.port))
					continue
				}
				var got []string
				next, ok := s.flush(sec(st.at), every, func(e *refusalEntry) {
					got = append(got, fmt.Sprintf("%s/%s/%d/%d", e.key.listener, e.key.why, e.count, e.peer.Port()))
				})
				if g := strings.Join(got, " "); g != st.want {
					t.Fatalf("step %d: flush at %gs emitted %q, want %q", i, st.at, g, st.want)
				}
				switch {
				case st.none && (ok || len(s.entries) > 0):
					t.Fatalf("step %d: table still holds %d entries (next %d)", i, len(s.entries), next)
				case !st.none && (!ok || next != sec(st.next)):
					t.Fatalf("step %d: next flush at %v (%v), want %gs", i, time.Duration(next), ok, st.next)
				}
			}
		})
	}
}

func TestReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for r := range numReasons {
		name := r.String()
		if name == "" || strings.ToLower(name) != name || strings.ContainsAny(name, " -=") || seen[name] {
			t.Errorf("reason %d: bad or repeated name %q", r, name)
		}
		seen[name] = true
	}
}

// BenchmarkRefused is the cost of one refusal of a key already in the table: what a flood of refused
// connections or datagrams pays per packet.
func BenchmarkRefused(b *testing.B) {
	l, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	peer := netip.MustParseAddrPort("10.1.2.3:5555")
	l.refused("diag", reasonCIDR, peer)
	b.ReportAllocs()
	for b.Loop() {
		l.refused("diag", reasonCIDR, peer)
	}
}

// recordLog is a slog.Handler that keeps every record, for tests.
type recordLog struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordLog) WithGroup(string) slog.Handler            { return h }
func (h *recordLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// refusedLines returns the "refused" records so far as "reason count last_peer".
func (h *recordLog) refusedLines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.records {
		if r.Message != "refused" {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		out = append(out, attrs["listener"]+" "+attrs["reason"]+" "+attrs["count"]+" "+attrs["last_peer"])
	}
	return out
}

// awaitRefused waits (5 s at most) until n refusal lines were logged and returns them.
func (h *recordLog) awaitRefused(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := h.refusedLines()
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d refusal lines, want %d: %q", len(lines), n, lines)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRefusalsFollowReload refuses clients by CIDR on a real loop: the first is logged at once, the next ones
// wait for log_refusals_every, and a reload that shortens it lets them out.
func TestRefusalsFollowReload(t *testing.T) {
	logs := &recordLog{}
	d := testDaemon()
	d.LogRefusalsEvery = time.Hour
	lc := testListener("diag", config.TCP)
	lc.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	l, addrs := startLoopWith(t, Options{Logger: slog.New(logs)}, d, lc)
	refuse := func() string {
		c := dialLoop(t, addrs["diag"], 5*time.Second)
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a client outside allow got a byte")
		}
		return c.LocalAddr().String()
	}
	first := refuse()
	if got := logs.awaitRefused(t, 1); got[0] != "diag cidr 1 "+first {
		t.Fatalf("first line %q, want count 1 from %s", got[0], first)
	}
	refuse()
	last := refuse()
	if s := l.Snapshot(); s.Listeners["diag"].RefusedCIDR != 3 {
		t.Fatalf("refused_cidr = %d, want 3", s.Listeners["diag"].RefusedCIDR)
	}
	if got := logs.refusedLines(); len(got) != 1 {
		t.Fatalf("a second line within the interval: %q", got)
	}
	d.LogRefusalsEvery = 50 * time.Millisecond
	cfg := &config.Config{Daemon: d, Listeners: []config.Listener{lc}}
	l.Call(func() { l.Apply(d, config.Plan(cfg, cfg), nil) })
	if got := logs.awaitRefused(t, 2); got[1] != "diag cidr 2 "+last {
		t.Fatalf("summary %q, want count 2 and the last peer %s", got[1], last)
	}
}
