package metrics

import "echogate/listeners"

// counterRow turns one of a listener's counters into one Prometheus counter. Rows that share a metric name
// differ by their label (the reason of a refusal or a drop).
type counterRow struct {
	metric string // without the echogate_ prefix; a counter, so it ends in _total
	help   string
	only   string    // "tcp" or "udp": the listeners it is written for; "" = both
	label  [2]string // an extra label and its value, e.g. {"reason", "busy"}; empty = none
	value  func(c *listeners.Counters) uint64
}

// counterRows are the per-listener counters. Every field of listeners.Counters is in one row or in
// notExported (TestEveryCounterHasARow checks it), so a counter added there shows up here.
var counterRows = []counterRow{
	{metric: "connections_accepted_total", help: "TCP connections accepted and admitted.", only: "tcp",
		value: func(c *listeners.Counters) uint64 { return c.Accepted }},
	{metric: "connections_refused_total", help: "TCP connections refused or closed by a rule, by reason.",
		only: "tcp", label: [2]string{"reason", "busy"}, value: func(c *listeners.Counters) uint64 { return c.RefusedBusy }},
	{metric: "connections_refused_total", only: "tcp", label: [2]string{"reason", "per_ip"},
		value: func(c *listeners.Counters) uint64 { return c.RefusedPerIP }},
	{metric: "connections_refused_total", only: "tcp", label: [2]string{"reason", "cidr"},
		value: func(c *listeners.Counters) uint64 { return c.RefusedCIDR }},
	{metric: "connections_refused_total", only: "tcp", label: [2]string{"reason", "proxy"},
		value: func(c *listeners.Counters) uint64 { return c.ProxyErrors }},
	{metric: "connections_refused_total", only: "tcp", label: [2]string{"reason", "line_timeout"},
		value: func(c *listeners.Counters) uint64 { return c.LineTimeouts }},
	{metric: "lines_total", help: "Lines echoed or answered (TCP line mode).", only: "tcp",
		value: func(c *listeners.Counters) uint64 { return c.Lines }},
	{metric: "datagrams_total", help: "UDP datagrams answered.", only: "udp",
		value: func(c *listeners.Counters) uint64 { return c.Datagrams }},
	{metric: "bytes_received_total", help: "Payload bytes received.",
		value: func(c *listeners.Counters) uint64 { return c.BytesIn }},
	{metric: "bytes_sent_total", help: "Payload bytes sent.",
		value: func(c *listeners.Counters) uint64 { return c.BytesOut }},
	{metric: "udp_dropped_total", help: "UDP datagrams dropped without an answer, by reason: loop (from echogate's " +
		"own sockets or an echo loop), refused (allow, source port, rate, peer table, broadcast, amplification).",
		only: "udp", label: [2]string{"reason", "loop"}, value: func(c *listeners.Counters) uint64 { return c.UDPLoopDropped }},
	{metric: "udp_dropped_total", only: "udp", label: [2]string{"reason", "refused"},
		value: func(c *listeners.Counters) uint64 { return c.UDPDropped - min(c.UDPLoopDropped, c.UDPDropped) }},
	{metric: "udp_truncated_total", help: "UDP datagrams over max_datagram (answered with an error).", only: "udp",
		value: func(c *listeners.Counters) uint64 { return c.UDPTruncated }},
	{metric: "udp_segmented_total", help: "UDP replies sent as segments of one UDP_SEGMENT (GSO) message.", only: "udp",
		value: func(c *listeners.Counters) uint64 { return c.UDPSegmented }},
	{metric: "udp_coalesced_total", help: "UDP datagrams received in a coalesced run (UDP_GRO), each answered on its own.",
		only: "udp", value: func(c *listeners.Counters) uint64 { return c.UDPCoalesced }},
	{metric: "stamp_reflected_total", help: "STAMP test packets reflected.", only: "udp",
		value: func(c *listeners.Counters) uint64 { return c.StampReflected }},
	{metric: "stamp_malformed_total", help: "STAMP test packets too short or with malformed TLVs (dropped or flagged).",
		only: "udp", value: func(c *listeners.Counters) uint64 { return c.StampMalformed }},
	{metric: "stamp_auth_failed_total", help: "Authenticated STAMP test packets whose HMAC was wrong.", only: "udp",
		value: func(c *listeners.Counters) uint64 { return c.StampAuthFailed }},
	{metric: "tls_handshakes_total", help: "TLS handshakes completed.", only: "tcp",
		value: func(c *listeners.Counters) uint64 { return c.TLSHandshakes }},
	{metric: "tls_handshake_errors_total", help: "TLS handshakes that failed or ran out of tls_handshake_timeout.",
		only: "tcp", value: func(c *listeners.Counters) uint64 { return c.TLSHandshakeErrors }},
	{metric: "connections_refused_total", only: "tcp", label: [2]string{"reason", "tls_queue"},
		value: func(c *listeners.Counters) uint64 { return c.TLSRefused }},
	{metric: "overflows_total", help: "Lines over max_line.", only: "tcp",
		value: func(c *listeners.Counters) uint64 { return c.Overflows }},
	{metric: "idle_closed_total", help: "TCP connections closed by idle_timeout.", only: "tcp",
		value: func(c *listeners.Counters) uint64 { return c.IdleClosed }},
	{metric: "drain_closed_total", help: "Connections of a removed listener closed by drain_timeout.", only: "tcp",
		value: func(c *listeners.Counters) uint64 { return c.DrainClosed }},
	{metric: "rate_limited_total", help: "Times rate_lines paused a connection or rate_datagrams dropped a datagram.",
		value: func(c *listeners.Counters) uint64 { return c.RateLimited }},
	{metric: "shutdown_refused_total", help: "/shutdown requests refused.", only: "tcp",
		value: func(c *listeners.Counters) uint64 { return c.ShutdownRefused }},
	{metric: "accept_errors_total", help: "accept(2) failures for lack of file descriptors or memory.", only: "tcp",
		value: func(c *listeners.Counters) uint64 { return c.AcceptErrors }},
	{metric: "health_checks_total", help: "Health checks answered: agent-check connections, and a balancer's own PROXY LOCAL connections.", only: "tcp",
		value: func(c *listeners.Counters) uint64 { return c.HealthChecks }},
}

// notExported are the counters with no row: the daemon's reload counts, which every listener repeats and
// echogate_reloads_total gives once.
var notExported = []string{"reloads_ok", "reloads_failed"}
