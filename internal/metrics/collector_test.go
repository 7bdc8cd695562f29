package metrics

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"echogate/listeners"
)

// Every counter of a listener is exported by a row of the table, or named as left out on purpose.
func TestEveryCounterHasARow(t *testing.T) {
	typ := reflect.TypeFor[listeners.Counters]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if slices.Contains(notExported, name) {
			continue
		}
		var c listeners.Counters
		reflect.ValueOf(&c).Elem().Field(i).SetUint(7)
		found := false
		for _, r := range counterRows {
			found = found || r.value(&c) != 0
		}
		if !found {
			t.Errorf("counter %s (%s) has no row in counterRows", f.Name, name)
		}
	}
}

func testScrape() Scrape {
	busy := listeners.Histogram{Bounds: []float64{0.001, 0.01}, Counts: []uint64{5, 2, 1}, Count: 8, Sum: 0.03}
	return Scrape{
		Observation: listeners.Observation{
			Snapshot: listeners.Snapshot{Generation: 3, LogsDropped: 2, Totals: listeners.Totals{State: "drain"}},
			Listeners: []listeners.ListenerView{
				{Name: "t", Protocol: "tcp", Mode: "line", Serving: true, Open: 4,
					Counters: listeners.Counters{Accepted: 10, RefusedBusy: 1, Lines: 99},
					Kernel:   listeners.KernelView{OK: true, ListenQueue: 3, ListenLimit: 128}},
				{Name: "u", Protocol: "udp", Serving: true, Open: 1,
					Counters: listeners.Counters{Datagrams: 5, UDPDropped: 3, UDPLoopDropped: 1},
					Kernel:   listeners.KernelView{OK: true, ReceiveDrops: 6}},
			},
			Busy: busy, Lag: busy,
		},
		Reloads: map[string]uint64{"ok": 2, "partial": 1}, LastReloadSuccess: time.Unix(1700000000, 0), Version: "v1",
	}
}

// The collector's output passes the client library's linter, and carries the values it was given.
func TestCollect(t *testing.T) {
	c := New(func() (Scrape, bool) { return testScrape(), true })
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	want := `
# HELP echogate_connections_refused_total TCP connections refused or closed by a rule, by reason.
# TYPE echogate_connections_refused_total counter
echogate_connections_refused_total{listener="t",reason="busy"} 1
echogate_connections_refused_total{listener="t",reason="cidr"} 0
echogate_connections_refused_total{listener="t",reason="line_timeout"} 0
echogate_connections_refused_total{listener="t",reason="per_ip"} 0
echogate_connections_refused_total{listener="t",reason="proxy"} 0
echogate_connections_refused_total{listener="t",reason="tls_queue"} 0
# HELP echogate_state The daemon's state: 1 for the current one.
# TYPE echogate_state gauge
echogate_state{state="drain"} 1
echogate_state{state="maint"} 0
echogate_state{state="ready"} 0
# HELP echogate_udp_dropped_total UDP datagrams dropped without an answer, by reason: loop (from echogate's own sockets or an echo loop), refused (allow, source port, rate, peer table, broadcast, amplification).
# TYPE echogate_udp_dropped_total counter
echogate_udp_dropped_total{listener="u",reason="loop"} 1
echogate_udp_dropped_total{listener="u",reason="refused"} 2
# HELP echogate_listen_queue_limit Limit of the accept queue as the kernel applies it (TCP_INFO tcpi_sacked).
# TYPE echogate_listen_queue_limit gauge
echogate_listen_queue_limit{listener="t"} 128
# HELP echogate_loop_busy_seconds Time the event loop worked per wake-up.
# TYPE echogate_loop_busy_seconds histogram
echogate_loop_busy_seconds_bucket{le="0.001"} 5
echogate_loop_busy_seconds_bucket{le="0.01"} 7
echogate_loop_busy_seconds_bucket{le="+Inf"} 8
echogate_loop_busy_seconds_sum 0.03
echogate_loop_busy_seconds_count 8
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "echogate_connections_refused_total",
		"echogate_state", "echogate_udp_dropped_total", "echogate_listen_queue_limit", "echogate_loop_busy_seconds"); err != nil {
		t.Error(err)
	}
}

// A loop that does not answer fails the collection instead of reporting nothing.
func TestCollectUnresponsive(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(func() (Scrape, bool) { return Scrape{}, false }))
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("Gather: %v", err)
	}
}
