package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"echogate/config"
	"echogate/listeners"
)

// Scrape is what one scrape turns into metrics: the loop's observation and what the reloader knows.
type Scrape struct {
	listeners.Observation
	Reloads           map[string]uint64 // by result: ok, failed, partial
	LastReloadSuccess time.Time         // when a config was last applied whole (the start counts)
	Version           string
}

// Collector is a prometheus.Collector that takes one Scrape per collection and writes it as const metrics.
type Collector struct {
	scrape  func() (Scrape, bool)
	rows    []*prometheus.Desc // by counterRows index
	gauges  map[string]*prometheus.Desc
	busy    *prometheus.Desc
	lag     *prometheus.Desc
	failure *prometheus.Desc
}

// New returns the collector; scrape returns false when the loop did not answer in time, and the collection
// then fails (the HTTP answer is a 500: a wedged loop must not look like an idle one).
func New(scrape func() (Scrape, bool)) *Collector {
	c := &Collector{scrape: scrape, gauges: map[string]*prometheus.Desc{}}
	byName := map[string]*prometheus.Desc{}
	for _, r := range counterRows {
		d := byName[r.metric]
		if d == nil {
			labels := []string{"listener"}
			if r.label[0] != "" {
				labels = append(labels, r.label[0])
			}
			d = prometheus.NewDesc("echogate_"+r.metric, r.help, labels, nil)
			byName[r.metric] = d
		}
		c.rows = append(c.rows, d)
	}
	for name, g := range gaugeDocs {
		c.gauges[name] = prometheus.NewDesc("echogate_"+name, g.help, g.labels, nil)
	}
	c.busy = prometheus.NewDesc("echogate_loop_busy_seconds", "Time the event loop worked per wake-up.", nil, nil)
	c.lag = prometheus.NewDesc("echogate_loop_lag_seconds", "How late the event loop's timers fired.", nil, nil)
	c.failure = prometheus.NewDesc("echogate_loop_unresponsive", "The loop did not answer the scrape.", nil, nil)
	return c
}

// gaugeDocs are the metrics that are not per-listener counters of the table.
var gaugeDocs = map[string]struct {
	help   string
	labels []string
}{
	"connections_open":          {"Open TCP connections.", []string{"listener"}},
	"udp_peers_active":          {"UDP peers seen within udp_peer_window.", []string{"listener"}},
	"listener_serving":          {"1 while the listener accepts clients, 0 while it is paused (out of file descriptors).", []string{"listener", "protocol"}},
	"listen_queue_length":       {"Connections waiting in the listening socket's accept queue (TCP_INFO tcpi_unacked).", []string{"listener"}},
	"listen_queue_limit":        {"Limit of the accept queue as the kernel applies it (TCP_INFO tcpi_sacked).", []string{"listener"}},
	"udp_receive_dropped_total": {"Datagrams the kernel dropped on a full receive buffer (SO_MEMINFO drops).", []string{"listener"}},
	"listeners_draining":        {"Removed TCP listeners whose connections are still served.", nil},
	"reloads_total":             {"Reloads by result: ok, failed (rejected, nothing changed), partial (a listener did not start).", []string{"result"}},
	"state":                     {"The daemon's state: 1 for the current one.", []string{"state"}},
	"config_generation":         {"Generation of the serving config: 1 at start, +1 per applied reload.", nil},
	"config_last_reload_success_timestamp_seconds": {"When a config was last applied whole (unix seconds).", nil},
	"build_info":         {"Always 1; the version is the label.", []string{"version"}},
	"logs_dropped_total": {"Log lines lost to a full log queue or a failed write.", nil},
	"clients_total":      {"TCP connections and UDP peers ever admitted.", nil},
}

// reloadResults are the results echogate_reloads_total always has, so that a rate over them starts at 0.
var reloadResults = []string{"ok", "failed", "partial"}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	seen := map[*prometheus.Desc]bool{}
	for _, d := range c.rows {
		if !seen[d] {
			seen[d] = true
			ch <- d
		}
	}
	for _, d := range c.gauges {
		ch <- d
	}
	ch <- c.busy
	ch <- c.lag
	ch <- c.failure
}

// Collect takes one scrape and writes it.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s, ok := c.scrape()
	if !ok {
		ch <- prometheus.NewInvalidMetric(c.failure, errUnresponsive)
		return
	}
	for i := range s.Listeners {
		c.listener(ch, &s.Listeners[i])
	}
	c.daemon(ch, &s)
}

func (c *Collector) listener(ch chan<- prometheus.Metric, v *listeners.ListenerView) {
	for i, r := range counterRows {
		if r.only != "" && r.only != v.Protocol {
			continue
		}
		labels := []string{v.Name}
		if r.label[0] != "" {
			labels = append(labels, r.label[1])
		}
		ch <- prometheus.MustNewConstMetric(c.rows[i], prometheus.CounterValue, float64(r.value(&v.Counters)), labels...)
	}
	c.gauge(ch, "listener_serving", b2f(v.Serving), v.Name, v.Protocol)
	if v.Protocol == "tcp" {
		c.gauge(ch, "connections_open", float64(v.Open), v.Name)
		if v.Kernel.OK {
			c.gauge(ch, "listen_queue_length", float64(v.Kernel.ListenQueue), v.Name)
			c.gauge(ch, "listen_queue_limit", float64(v.Kernel.ListenLimit), v.Name)
		}
		return
	}
	c.gauge(ch, "udp_peers_active", float64(v.Open), v.Name)
	if v.Kernel.OK {
		ch <- prometheus.MustNewConstMetric(c.gauges["udp_receive_dropped_total"], prometheus.CounterValue,
			float64(v.Kernel.ReceiveDrops), v.Name)
	}
}

func (c *Collector) daemon(ch chan<- prometheus.Metric, s *Scrape) {
	for _, res := range reloadResults {
		ch <- prometheus.MustNewConstMetric(c.gauges["reloads_total"], prometheus.CounterValue, float64(s.Reloads[res]), res)
	}
	for _, st := range config.States {
		c.gauge(ch, "state", b2f(st == s.State), st)
	}
	c.gauge(ch, "config_generation", float64(s.Generation))
	if !s.LastReloadSuccess.IsZero() {
		c.gauge(ch, "config_last_reload_success_timestamp_seconds", float64(s.LastReloadSuccess.UnixNano())/1e9)
	}
	c.gauge(ch, "build_info", 1, s.Version)
	c.gauge(ch, "listeners_draining", float64(s.Draining))
	ch <- prometheus.MustNewConstMetric(c.gauges["logs_dropped_total"], prometheus.CounterValue, float64(s.LogsDropped))
	ch <- prometheus.MustNewConstMetric(c.gauges["clients_total"], prometheus.CounterValue, float64(s.TotalClients))
	ch <- histogram(c.busy, s.Busy)
	ch <- histogram(c.lag, s.Lag)
}

func (c *Collector) gauge(ch chan<- prometheus.Metric, name string, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(c.gauges[name], prometheus.GaugeValue, v, labels...)
}

// histogram writes one of the loop's histograms, whose counts are per bucket, with cumulative buckets.
func histogram(d *prometheus.Desc, h listeners.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var sum uint64
	for i, b := range h.Bounds {
		sum += h.Counts[i]
		buckets[b] = sum
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum, buckets)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// errUnresponsive fails a collection whose loop did not answer in time.
var errUnresponsive = errors.New("the event loop did not answer within the scrape's hand-off timeout")
