package listeners

import (
	"time"

	"echogate/internal/logmsg"
)

// Counters are one listener's totals since the daemon started. They survive reloads that keep the name.
// Every field is a uint64 counter: /stats json writes them in this order, by their json names, without
// reflection (stats_json.go checks this at start).
type Counters struct {
	Accepted        uint64 `json:"accepted"`
	RefusedBusy     uint64 `json:"refused_busy"`
	RefusedPerIP    uint64 `json:"refused_per_ip"`
	RefusedCIDR     uint64 `json:"refused_cidr"`
	Lines           uint64 `json:"lines"`
	Datagrams       uint64 `json:"datagrams"`
	BytesIn         uint64 `json:"bytes_in"`
	BytesOut        uint64 `json:"bytes_out"`
	Overflows       uint64 `json:"overflows"`
	IdleClosed      uint64 `json:"idle_closed"`
	DrainClosed     uint64 `json:"drain_closed"`
	RateLimited     uint64 `json:"rate_limited"`
	UDPDropped      uint64 `json:"udp_dropped"`
	UDPTruncated    uint64 `json:"udp_truncated"`
	UDPLoopDropped  uint64 `json:"udp_loop_dropped"` // datagrams from our own sockets or from an echo loop
	UDPSegmented    uint64 `json:"udp_segmented"`    // replies sent as segments of one UDP_SEGMENT send
	UDPCoalesced    uint64 `json:"udp_coalesced"`    // datagrams received in a coalesced run (UDP_GRO)
	LineTimeouts    uint64 `json:"line_timeouts"`    // connections closed because a line took too long
	ShutdownRefused uint64 `json:"shutdown_refused"`
	AcceptErrors    uint64 `json:"accept_errors"`
	HealthChecks    uint64 `json:"health_checks"` // agent checks answered, and PROXY v2 LOCAL (or v1 UNKNOWN) connections of a balancer
	ProxyErrors     uint64 `json:"proxy_errors"`  // PROXY headers malformed, truncated, too slow, missing or untrusted
	ReloadsOK       uint64 `json:"reloads_ok"`
	ReloadsFailed   uint64 `json:"reloads_failed"`
	StampReflected  uint64 `json:"stamp_reflected"`   // STAMP test packets answered
	StampMalformed  uint64 `json:"stamp_malformed"`   // too short to answer, or answered with TLVs flagged M
	StampAuthFailed uint64 `json:"stamp_auth_failed"` // HMAC of the packet or of its HMAC TLV wrong
	// TLS listeners: handshakes done, failed (or cut by tls_handshake_timeout), and connections refused
	// because the handshake queue was full.
	TLSHandshakes      uint64 `json:"tls_handshakes"`
	TLSHandshakeErrors uint64 `json:"tls_handshake_errors"`
	TLSRefused         uint64 `json:"tls_refused"`
}

// ListenerStats is one listener's counters plus what is open on it now.
type ListenerStats struct {
	Protocol string `json:"protocol"`
	Address  string `json:"address,omitempty"`
	Open     int    `json:"open"` // TCP connections or active UDP peers
	Draining bool   `json:"draining,omitempty"`
	Counters
}

// Snapshot is the daemon-wide view behind /stats and /stats json.
type Snapshot struct {
	Version      string `json:"version,omitempty"`
	StartedAt    string `json:"started_at,omitempty"` // RFC 3339, UTC
	Generation   uint64 `json:"generation"`           // 1 at start, +1 per applied reload
	ConfigSHA256 string `json:"config_sha256,omitempty"`
	LoadedAt     string `json:"loaded_at,omitempty"` // RFC 3339, UTC: when the running config was applied
	LogsDropped  uint64 `json:"logs_dropped"`
	Totals
	Listeners map[string]ListenerStats `json:"listeners"` // the last field: /stats json appends the listeners after the rest
}

// Totals are the daemon-wide counts and state of /stats json, which `echogate status` reports too.
type Totals struct {
	TotalClients  uint64 `json:"total_clients"`
	TCPConnected  int    `json:"tcp_connected"`
	UDPActive     int    `json:"udp_active"`
	ReloadsOK     uint64 `json:"reloads_ok"`
	ReloadsFailed uint64 `json:"reloads_failed"`
	State         string `json:"state"` // ready, drain or maint
}

// Running describes the config the daemon serves, for /stats json.
type Running struct {
	Generation   uint64    // 1 at start, +1 per applied reload
	ConfigSHA256 string    // hex SHA-256 of the file's bytes; "" when the listeners come from flags
	LoadedAt     time.Time // when it was applied
}

// Stats holds the daemon-wide counters; it is owned by the loop goroutine.
type Stats struct {
	TotalClients  uint64 // TCP connections and UDP peers ever admitted
	TCPNow        int
	UDPPeers      int // in the peer tables of the serving UDP sockets; summed again when listeners change
	ReloadsOK     uint64
	ReloadsFailed uint64
	running       Running
	byName        map[string]*Counters
}

// timeFormat is how /stats json writes times: RFC 3339 in UTC, to the millisecond.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatTime writes t as /stats json does ("" for the zero time).
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// SetRunning records which config is serving, for /stats json. It must run on the loop goroutine (through
// Call or Submit), or before Run.
func (l *Loop) SetRunning(r Running) { l.stats.running = r }

func newStats() *Stats { return &Stats{byName: make(map[string]*Counters)} }

// counters returns the counters of the named listener, creating them on first use.
func (s *Stats) counters(name string) *Counters {
	c := s.byName[name]
	if c == nil {
		c = &Counters{}
		s.byName[name] = c
	}
	return c
}

// udpActive is how many UDP peers are active now. It is kept as a count, because /stats is asked far more
// often than listeners change, and summing the tables of 10 000 UDP listeners takes milliseconds.
func (l *Loop) udpActive() int { return l.stats.UDPPeers }

// countUDPPeers sums the peer tables again, after listeners came or went.
func (l *Loop) countUDPPeers() {
	n := 0
	for _, u := range l.udp {
		n += len(u.peers)
	}
	l.stats.UDPPeers = n
}

// snapshot copies every counter. It runs on the loop goroutine.
func (l *Loop) snapshot() Snapshot {
	s := l.snapshotHead()
	s.Listeners = make(map[string]ListenerStats)
	for name, ln := range l.tcp {
		s.Listeners[name] = ListenerStats{Protocol: "tcp", Address: ln.addr.String(), Open: len(ln.conns),
			Counters: l.withReloads(ln.stats)}
	}
	for name, u := range l.udp {
		s.Listeners[name] = ListenerStats{Protocol: "udp", Address: u.addr.String(), Open: len(u.peers),
			Counters: l.withReloads(u.stats)}
	}
	for ln := range l.draining {
		if _, taken := s.Listeners[ln.name]; !taken {
			s.Listeners[ln.name] = ListenerStats{Protocol: "tcp", Open: len(ln.conns), Draining: true,
				Counters: l.withReloads(ln.stats)}
		}
	}
	return s
}

// snapshotHead is the snapshot without its listeners: the daemon-wide fields. They are set here only, since
// the serialisation of /stats json takes them from here too.
func (l *Loop) snapshotHead() Snapshot {
	s := Snapshot{
		Version:      l.opts.Version,
		StartedAt:    FormatTime(l.opts.StartedAt),
		Generation:   l.stats.running.Generation,
		ConfigSHA256: l.stats.running.ConfigSHA256,
		LoadedAt:     FormatTime(l.stats.running.LoadedAt),
		Totals: Totals{TotalClients: l.stats.TotalClients, TCPConnected: l.stats.TCPNow, UDPActive: l.udpActive(),
			ReloadsOK: l.stats.ReloadsOK, ReloadsFailed: l.stats.ReloadsFailed, State: l.obs.state},
	}
	if l.opts.LogsDropped != nil {
		s.LogsDropped = l.opts.LogsDropped()
	}
	return s
}

// withReloads copies c with the daemon's reload counters filled in: every listener lived through them.
func (l *Loop) withReloads(c *Counters) Counters {
	cp := *c
	cp.ReloadsOK, cp.ReloadsFailed = l.stats.ReloadsOK, l.stats.ReloadsFailed
	return cp
}

// Snapshot returns the daemon's counters. It is safe from any goroutine except the loop's own.
func (l *Loop) Snapshot() Snapshot {
	var s Snapshot
	l.Call(func() { s = l.snapshot() })
	return s
}

// logStats writes the periodic stats line.
func (l *Loop) logStats() {
	var lines, dropped, refused uint64
	for _, c := range l.stats.byName {
		lines += c.Lines + c.Datagrams
		dropped += c.UDPDropped
		refused += c.RefusedBusy + c.RefusedCIDR + c.RefusedPerIP
	}
	l.log.Info(logmsg.Stats, "total_clients", l.stats.TotalClients, "tcp_connected", l.stats.TCPNow,
		"udp_active", l.udpActive(), "lines", lines, "refused", refused, "udp_dropped", dropped,
		"listeners", len(l.tcp)+len(l.udp), "draining", len(l.draining))
}
