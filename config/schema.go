package config

import (
	"net/netip"
	"time"
)

// This file is the config schema: every key of the file, declared once. Decoding, defaults, the protocol a
// key applies to, its checks, `echogate status`, reload diffs and the README's key reference are all read
// from listenerKeys and daemonKeys (key.go says what each field of a key means). A new key is one entry
// here and one field in types.go; `go test ./config -run TestREADMEKeyReference -update` then writes its
// line in the README.

// Defaults for keys that are left out.
const (
	DefaultMaxConns      = 1024
	DefaultBacklog       = 128
	DefaultMaxLine       = 4096
	DefaultMaxDatagram   = 65535
	DefaultMaxOutput     = 65536
	DefaultIdleTimeout   = 5 * time.Minute
	DefaultMaxUDPPeers   = 65536
	DefaultStatsInterval = 60 * time.Second
	DefaultUDPPeerWindow = 60 * time.Second
	DefaultShutdownGrace = 5 * time.Second
	DefaultDrainTimeout  = 5 * time.Minute
	DefaultLineTimeout   = 60 * time.Second
	DefaultProxyTimeout  = 5 * time.Second
	// DefaultTLSHandshakeTimeout is how long a TLS client may take to finish its handshake.
	DefaultTLSHandshakeTimeout = 10 * time.Second
	// DefaultLogRefusalsEvery is how often refusal summaries are logged at most, per listener and reason.
	DefaultLogRefusalsEvery = 10 * time.Second
)

// DefaultUDPDenySources are the well-known echo/chargen/daytime/time/qotd ports:
// replying to them could start a packet loop (CVE-1999-0103).
var DefaultUDPDenySources = []uint16{7, 13, 17, 19, 37}

// DefaultStampDSCPAllow is stamp_dscp_allow left out: every DSCP, so that a sender can probe each class of
// the reverse path (a test reflector's job). It is the whole list rather than "left out" so that Effective
// and reload diffs write it as it is, and [] stays a list of its own: never re-mark.
var DefaultStampDSCPAllow = dscpRange(0, MaxDSCP)

// DefaultAdminAllow is who may ask for /shutdown when admin_allow is left out: loopback only.
var DefaultAdminAllow = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// Limits of the listener keys, checked by Validate.
const (
	MaxLineLimit     = 1 << 20  // max_line 1..1048576
	MaxConnsLimit    = 1000000  // max_conns 1..1000000
	MaxBacklog       = 65535    // backlog 1..65535
	MaxDatagramLimit = 65535    // max_datagram 1..65535
	MaxOutputLimit   = 64 << 20 // max_output up to 64 MiB
	MaxUDPPeersLimit = 10000000 // max_udp_peers 1..10000000
	MaxRate          = 1000000000
	MaxTokenLen      = 4096 // bytes of a token after trimming
	MaxDSCP          = 63   // a DSCP is 6 bits (stamp_dscp_allow)
	// MaxTLSHandshakeWorkers bounds [daemon] tls_handshake_workers.
	MaxTLSHandshakeWorkers = 1024
)

// The daemon states of [daemon] state and `echogate state`. Drain and maint tell health checks "not ready"
// while every listener keeps serving.
const (
	StateReady = "ready"
	StateDrain = "drain"
	StateMaint = "maint"
)

// States are the accepted values of [daemon] state.
var States = []string{StateReady, StateDrain, StateMaint}

// LogLevels are the accepted values of [daemon] log_level.
var LogLevels = []string{"debug", "info", "warn", "error"}

// keySpec is a key of a [[listener]] table.
type keySpec = key[Listener]

// daemonKey is a key of the [daemon] table.
type daemonKey = key[Daemon]

// listenerKeys are the keys of a [[listener]] table, in the order the README lists them.
var listenerKeys = []keySpec{
	{name: "name", field: func(l *Listener) any { return &l.Name },
		example: `"diag"`, doc: "required, unique, [a-z0-9._-]"},
	{name: "protocol", field: func(l *Listener) any { return &l.Protocol },
		want: `"tcp" or "udp"`, enum: []string{string(TCP), string(UDP)},
		example: `"tcp"`, doc: `required: "tcp" | "udp"`},
	{name: "address", field: func(l *Listener) any { return &l.Address },
		want: `a "host:port" string`, parse: normalizeAddress,
		example: `"127.0.0.1:7007"`, doc: "required unless systemd passes a socket named like the listener"},
	{name: "mode", field: func(l *Listener) any { return &l.Mode },
		want:    `"line", "raw", "agent", "echo" or "stamp"`,
		enum:    []string{string(ModeLine), string(ModeRaw), string(ModeAgent), string(ModeEcho), string(ModeStamp)},
		example: `"line"`, doc: `tcp: "line" (default) | "raw" | "agent" (HAProxy agent-check); udp: "echo" (default) | "stamp"`},
	{name: "max_conns", only: TCP, field: func(l *Listener) any { return &l.MaxConns }, def: DefaultMaxConns,
		lo: 1, hi: MaxConnsLimit, doc: `open connections; the next one gets "server busy\n"`},
	{name: "max_conns_per_ip", only: TCP, field: func(l *Listener) any { return &l.MaxConnsPerIP },
		lo: 0, hi: MaxConnsLimit, doc: "open connections from one address; 0 = no limit"},
	{name: "backlog", only: TCP, field: func(l *Listener) any { return &l.Backlog }, def: DefaultBacklog,
		lo: 1, hi: MaxBacklog, doc: "listen(2) backlog"},
	{name: "max_line", only: TCP, field: func(l *Listener) any { return &l.MaxLine }, def: DefaultMaxLine,
		lo: 1, hi: MaxLineLimit, doc: `in line mode, bytes before '\n' (a trailing '\r' counts)`},
	{name: "max_datagram", only: UDP, field: func(l *Listener) any { return &l.MaxDatagram }, def: DefaultMaxDatagram,
		lo: 1, hi: MaxDatagramLimit, doc: `larger datagrams get "ERR datagram-truncated\n"`},
	{name: "max_output", only: TCP, field: func(l *Listener) any { return &l.MaxOutput }, def: DefaultMaxOutput,
		lo: 1, hi: MaxOutputLimit, floor: lineFitsInOutput,
		doc: "queued reply bytes before the connection stops being read; left out, grows to max_line+1"},
	{name: "idle_timeout", only: TCP, field: func(l *Listener) any { return &l.IdleTimeout }, def: DefaultIdleTimeout,
		doc: `a connection silent this long is closed; "0s" = never`},
	{name: "line_timeout", only: TCP, field: func(l *Listener) any { return &l.LineTimeout }, def: DefaultLineTimeout,
		doc: `in line mode, the most a line may take from its first byte to '\n'; "0s" = off`},
	{name: "allow", field: func(l *Listener) any { return &l.Allow }, rule: notEmpty,
		example: `["127.0.0.0/8", "::1/128"]`, doc: "client CIDRs; left out = every client ([] is an error)"},
	{name: "admin_allow", only: TCP, field: func(l *Listener) any { return &l.AdminAllow }, def: DefaultAdminAllow,
		doc: "who may /shutdown; [] = nobody"},
	{name: "token_credential", only: TCP, field: func(l *Listener) any { return &l.TokenCredential },
		doc: `the /shutdown token is $CREDENTIALS_DIRECTORY/<this>, trimmed (e.g. "shutdown.token")`},
	{name: "token_file", only: TCP, field: func(l *Listener) any { return &l.TokenFile },
		doc: "or a file owned by root or echogate's user, mode 0600 or stricter (not both)"},
	{name: "tls_cert_file", only: TCP, field: func(l *Listener) any { return &l.TLSCertFile }, rule: absolutePath,
		doc: "TLS on this listener: the certificate chain (PEM), re-read on every reload"},
	{name: "tls_key_file", only: TCP, field: func(l *Listener) any { return &l.TLSKeyFile }, rule: absolutePath,
		doc: "its private key (PEM); owned and moded as token_file"},
	{name: "tls_cert_credential", only: TCP, field: func(l *Listener) any { return &l.TLSCertCredential },
		rule: credentialName, doc: "or the chain as $CREDENTIALS_DIRECTORY/<this>"},
	{name: "tls_key_credential", only: TCP, field: func(l *Listener) any { return &l.TLSKeyCredential },
		rule: credentialName, doc: "and the key as $CREDENTIALS_DIRECTORY/<this>"},
	{name: "tls_client_ca_file", only: TCP, field: func(l *Listener) any { return &l.TLSClientCAFile },
		rule: absolutePath, doc: "mTLS: the CAs (PEM) that sign client certificates"},
	{name: "tls_client_ca_credential", only: TCP, field: func(l *Listener) any { return &l.TLSClientCACredential },
		rule: credentialName, doc: "or those CAs as $CREDENTIALS_DIRECTORY/<this>"},
	{name: "tls_client_auth", only: TCP, field: func(l *Listener) any { return &l.TLSClientAuth }, def: TLSAuthNone,
		want: `"none", "request" or "require"`, enum: []string{TLSAuthNone, TLSAuthRequest, TLSAuthRequire},
		doc: `"none" | "request" (verified when given) | "require"; the last two need a client CA`},
	{name: "tls_min_version", only: TCP, field: func(l *Listener) any { return &l.TLSMinVersion }, def: "1.2",
		want: `"1.2" or "1.3"`, enum: []string{"1.2", "1.3"}, doc: `"1.2" | "1.3"`},
	{name: "tls_handshake_timeout", only: TCP, field: func(l *Listener) any { return &l.TLSHandshakeTimeout },
		def: DefaultTLSHandshakeTimeout, least: 100 * time.Millisecond,
		doc: "the most a TLS handshake may take, from the accept (>= 100ms)"},
	{name: "commands", field: func(l *Listener) any { return &l.Commands }, def: true,
		doc: `"/"-lines are commands; false echoes them`},
	{name: "proxy_protocol", only: TCP, field: func(l *Listener) any { return &l.ProxyProtocol }, def: ProxyOff,
		want: `"off", "optional" or "required"`, enum: []string{ProxyOff, ProxyOptional, ProxyRequired},
		doc: `PROXY protocol v1/v2 header from a balancer: "off" | "optional" | "required"`},
	{name: "proxy_allow", only: TCP, field: func(l *Listener) any { return &l.ProxyAllow }, unset: "none",
		example: `["10.0.0.0/8"]`, doc: `balancer CIDRs trusted to send a header; required unless proxy_protocol is "off"`},
	{name: "proxy_timeout", only: TCP, field: func(l *Listener) any { return &l.ProxyTimeout }, def: DefaultProxyTimeout,
		least: time.Millisecond, doc: "the most a PROXY header may take to arrive"},
	{name: "rate_lines", only: TCP, field: func(l *Listener) any { return &l.RateLines },
		lo: 0, hi: MaxRate, doc: "lines per second per connection; 0 = off"},
	{name: "rate_datagrams", only: UDP, field: func(l *Listener) any { return &l.RateDatagrams },
		lo: 0, hi: MaxRate, doc: "datagrams per second per source address; 0 = off"},
	{name: "rate_burst", field: func(l *Listener) any { return &l.RateBurst },
		lo: 0, hi: MaxRate, doc: "bucket size for both rates; 0 = one second's worth"},
	{name: "udp_deny_source_ports", only: UDP, field: func(l *Listener) any { return &l.UDPDenySources },
		def: DefaultUDPDenySources, doc: "never answer these source ports (loops, reflection)"},
	{name: "max_udp_peers", only: UDP, field: func(l *Listener) any { return &l.MaxUDPPeers }, def: DefaultMaxUDPPeers,
		lo: 1, hi: MaxUDPPeersLimit, doc: "bound of the peer table (and of the rate-limit table)"},
	{name: "agent_listeners", only: TCP, field: func(l *Listener) any { return &l.AgentListeners },
		example: `["udp-echo"]`, doc: `agent mode: answer "down" while one of these listeners is not serving`},
	{name: "agent_weight", only: TCP, field: func(l *Listener) any { return &l.AgentWeight },
		lo: 0, hi: 100, doc: `agent mode: also send this weight as "N%" (1..100); 0 = none`},
	{name: "stamp_auth", only: UDP, field: func(l *Listener) any { return &l.StampAuth }, def: StampAuthOff,
		want: `"off" or "required"`, enum: []string{StampAuthOff, StampAuthRequired},
		doc: `mode "stamp": "required" = authenticated mode only (HMAC-SHA-256), "off" = unauthenticated`},
	{name: "stamp_key_credential", only: UDP, field: func(l *Listener) any { return &l.StampKeyCredential },
		doc: "the HMAC key is $CREDENTIALS_DIRECTORY/<this>, trimmed; re-read on reload"},
	{name: "stamp_key_file", only: UDP, field: func(l *Listener) any { return &l.StampKeyFile },
		doc: "or a file, as token_file (not both)"},
	{name: "stamp_stateful", only: UDP, field: func(l *Listener) any { return &l.StampStateful },
		doc: "a reflector sequence number per session (peer and SSID), for loss per direction"},
	{name: "stamp_timestamp", only: UDP, field: func(l *Listener) any { return &l.StampTimestamp }, def: StampNTP,
		want: `"ntp" or "ptp"`, enum: []string{StampNTP, StampPTP}, doc: `"ntp" | "ptp" (PTPv2 truncated)`},
	{name: "stamp_dscp_allow", only: UDP, field: func(l *Listener) any { return &l.StampDSCPAllow },
		def: DefaultStampDSCPAllow, lo: 0, hi: MaxDSCP, want: "an array of DSCP values (0..63)", unset: "all", example: "[0, 10, 46]",
		doc: "the DSCPs a Class of Service TLV may have the reply sent with; left out = all 64, [] = never re-mark"},
}

// daemonKeys are the keys of the [daemon] table.
var daemonKeys = []daemonKey{
	{name: "log_level", field: func(d *Daemon) any { return &d.LogLevel }, def: "info",
		want: "debug, info, warn or error", enum: LogLevels, doc: "debug | info | warn | error"},
	{name: "stats_interval", field: func(d *Daemon) any { return &d.StatsInterval }, def: DefaultStatsInterval,
		least: time.Second, off: true, doc: `a periodic stats log line; "0s" turns it off`},
	{name: "udp_peer_window", field: func(d *Daemon) any { return &d.UDPPeerWindow }, def: DefaultUDPPeerWindow,
		least: time.Second, why: "peers are aged once a second",
		doc: `a UDP peer is "active" this long after its last datagram (>= 1s)`},
	{name: "shutdown_grace", field: func(d *Daemon) any { return &d.ShutdownGrace }, def: DefaultShutdownGrace,
		doc: "how long open connections may flush on shutdown"},
	{name: "drain_timeout", field: func(d *Daemon) any { return &d.DrainTimeout }, def: DefaultDrainTimeout,
		doc: "how long connections of a removed listener are still served"},
	{name: "pid_file", field: func(d *Daemon) any { return &d.PIDFile },
		doc: "written by `run` (never through a symlink), read by `echogate reload`"},
	{name: "control_socket", field: func(d *Daemon) any { return &d.ControlSocket }, rule: absolutePath,
		doc: "unix socket for `echogate reload` and `status`; \"\" = $RUNTIME_DIRECTORY/control.sock under " +
			"systemd's RuntimeDirectory=, else none"},
	{name: "log_refusals_every", field: func(d *Daemon) any { return &d.LogRefusalsEvery }, def: DefaultLogRefusalsEvery,
		least: time.Second, doc: `at most one "refused" summary line per listener and reason this often (>= 1s)`},
	{name: "http", field: func(d *Daemon) any { return &d.HTTP }, want: `a "host:port" string`, parse: optionalAddress,
		doc: `HTTP for machines: /metrics, /healthz, /readyz; "" = off (or a systemd socket named "http")`},
	{name: "http_allow", field: func(d *Daemon) any { return &d.HTTPAllow }, def: DefaultAdminAllow,
		doc: "who may ask the HTTP endpoint; [] = nobody"},
	{name: "state", field: func(d *Daemon) any { return &d.State }, def: StateReady,
		want: "ready, drain or maint", enum: States, doc: "ready | drain | maint; a reload that changes it applies it"},
	{name: "tls_handshake_workers", field: func(d *Daemon) any { return &d.TLSHandshakeWorkers },
		lo: 0, hi: MaxTLSHandshakeWorkers, doc: "TLS handshakes computed at once, off the loop; 0 = the number of CPUs"},
}

// topKeys are the keys allowed at the top level of the file.
var topKeys = []string{"daemon", "listener"}

// lineFitsInOutput is max_output's lower bound: in line mode the output buffer holds one full line.
func lineFitsInOutput(l *Listener) (lo int, why string) {
	if l.Mode == ModeLine && l.MaxLine > 0 {
		return l.MaxLine + 1, "max_line+1"
	}
	return 1, ""
}

// fitLine is max_output's default when the key is left out: the default, or one full line if that is more.
func fitLine(l *Listener) {
	if l.Protocol == TCP && l.MaxOutput <= l.MaxLine {
		l.MaxOutput = l.MaxLine + 1
	}
}

// DefaultDaemon returns the [daemon] settings used when the table or a key is left out.
func DefaultDaemon() Daemon {
	var d Daemon
	for i := range daemonKeys {
		daemonKeys[i].setDefault(&d)
	}
	return d
}

// DefaultListener returns a listener of the given protocol with every default filled in:
// the keys of that protocol get their documented defaults, the others stay zero.
func DefaultListener(name string, proto Protocol, address string) Listener {
	var l Listener
	for i := range listenerKeys {
		if k := &listenerKeys[i]; k.appliesTo(proto) {
			k.setDefault(&l)
		}
	}
	l.Name, l.Protocol, l.Address, l.Mode = name, proto, address, defaultMode(proto)
	return l
}

func listenerKeyNames() []string { return keyNames(listenerKeys) }

func daemonKeyNames() []string { return keyNames(daemonKeys) }

func keyNames[T any](keys []key[T]) []string {
	names := make([]string, len(keys))
	for i := range keys {
		names[i] = keys[i].name
	}
	return names
}

// listenerKeySpec returns the listener key called name.
func listenerKeySpec(name string) (*keySpec, bool) {
	for i := range listenerKeys {
		if listenerKeys[i].name == name {
			return &listenerKeys[i], true
		}
	}
	return nil, false
}
