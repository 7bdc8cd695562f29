package config

import (
	"net/netip"
	"time"
)

// Config is one validated echogate configuration: the daemon settings and every listener.
type Config struct {
	// Path is the file the configuration was loaded from ("" when built from flags).
	Path string
	// Hash is the SHA-256 of the file's bytes, used to skip reloads that change nothing.
	Hash [32]byte
	// Daemon holds the settings of the whole process.
	Daemon Daemon
	// Listeners are the endpoints to serve, in file order.
	Listeners []Listener

	src *source // the text it was decoded from, to place errors; nil when built by hand
}

// Daemon holds the [daemon] table. Its keys are declared in schema.go.
type Daemon struct {
	LogLevel      string        // debug | info | warn | error
	StatsInterval time.Duration // periodic stats log line; 0 = off
	UDPPeerWindow time.Duration // a UDP peer counts as active this long after its last datagram
	ShutdownGrace time.Duration // how long open connections may drain on shutdown
	DrainTimeout  time.Duration // how long connections of a removed listener are served after a reload
	PIDFile       string        // where `run` writes its PID and `reload` finds it; "" = none
	// LogRefusalsEvery is how often refusals a remote peer can cause are summarised: at most one log line
	// per listener and reason per interval.
	LogRefusalsEvery time.Duration
	// ControlSocket is the unix socket `echogate reload` and `echogate status` talk to; "" = none. The
	// default under systemd's RuntimeDirectory= is filled in by the daemon, not here.
	ControlSocket string
	// HTTP is the host:port of the HTTP endpoint for machines (/metrics, /healthz, /readyz); "" = off,
	// unless systemd passes a socket named "http". HTTPAllow is who may ask it.
	HTTP      string
	HTTPAllow []netip.Prefix
	// State is the daemon's state as the file sets it: ready, drain or maint (see StateReady).
	State string
	// TLSHandshakeWorkers is how many TLS handshakes are computed at once; 0 = the number of CPUs.
	TLSHandshakeWorkers int
}

// Protocol is the transport of a listener.
type Protocol string

// The transports a listener can use.
const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// Mode is how a listener treats the bytes it receives.
type Mode string

// The modes: line and raw are those of TCP listeners, echo and stamp those of UDP listeners.
const (
	ModeLine  Mode = "line"  // lines echoed whole, commands recognised
	ModeRaw   Mode = "raw"   // bytes echoed as they arrive (RFC 862)
	ModeAgent Mode = "agent" // HAProxy's agent-check: one line with the daemon's state, then the close
	ModeEcho  Mode = "echo"  // datagrams echoed (RFC 862), command datagrams answered
	ModeStamp Mode = "stamp" // a STAMP Session-Reflector (RFC 8762, RFC 8972)
)

// Listener is one [[listener]] table after defaults and validation. Its keys are declared in schema.go.
// Fields marked tcp or udp are zero on a listener of the other protocol.
type Listener struct {
	Name     string
	Protocol Protocol
	// Address is the host:port to bind, with an empty host meaning 127.0.0.1.
	// It is "" only when the socket comes from systemd socket activation.
	Address string
	Mode    Mode

	MaxConns      int // tcp: open connections; the next one gets "server busy"
	MaxConnsPerIP int // tcp: open connections from one source address; 0 = no limit
	Backlog       int // tcp: listen(2) backlog
	MaxLine       int // tcp line mode: bytes before '\n'
	MaxDatagram   int // udp: larger datagrams are reported truncated
	MaxOutput     int // tcp: queued reply bytes before the connection stops being read
	IdleTimeout   time.Duration
	LineTimeout   time.Duration // tcp line mode: the most a line may take from its first byte to '\n'; 0 = off

	Allow      []netip.Prefix // client CIDRs; nil = every client
	AdminAllow []netip.Prefix // who may /shutdown

	TokenCredential string // name under $CREDENTIALS_DIRECTORY
	TokenFile       string // path of a 0600 file
	// Token is the shutdown token read from TokenCredential or TokenFile ("" = none).
	// It never comes from the TOML text and is never logged.
	Token string

	// TLS (tls.go): where the certificate, its key and the client CAs come from, and the handshake's rules.
	TLSCertFile, TLSKeyFile, TLSClientCAFile                   string // tcp: absolute paths
	TLSCertCredential, TLSKeyCredential, TLSClientCACredential string // tcp: names under $CREDENTIALS_DIRECTORY
	TLSClientAuth                                              string // tcp: none | request | require
	TLSMinVersion                                              string // tcp: "1.2" | "1.3"
	TLSHandshakeTimeout                                        time.Duration
	// TLS is what those files held, read by LoadTLS; nil on a plain listener. Never logged.
	TLS *TLSMaterial

	Commands bool // "/"-lines are commands (true) or echoed (false)

	RateLines      int // tcp: lines per second per connection; 0 = no limit
	RateDatagrams  int // udp: datagrams per second per source address; 0 = no limit
	RateBurst      int // bucket size for both rates; 0 = one second's worth
	UDPDenySources []uint16
	MaxUDPPeers    int

	AgentListeners []string       // tcp agent mode: the agent answers "down" while one of these is not serving
	AgentWeight    int            // tcp agent mode: a weight in per cent sent after the state; 0 = none
	ProxyProtocol  string         // tcp: ProxyOff, ProxyOptional or ProxyRequired
	ProxyAllow     []netip.Prefix // tcp: the balancers trusted to send a PROXY header; nil = none
	ProxyTimeout   time.Duration  // tcp: the most a PROXY header may take to arrive

	// udp, mode "stamp" (stamp.go)
	StampAuth          string // "off" | "required"
	StampKeyCredential string // name under $CREDENTIALS_DIRECTORY
	StampKeyFile       string // path of a 0600 file
	// StampKey is the HMAC key read from StampKeyCredential or StampKeyFile ("" = none). It never comes from
	// the TOML text and is never logged.
	StampKey       string
	StampStateful  bool     // a sequence counter per session, instead of copying the sender's
	StampTimestamp string   // "ntp" | "ptp"
	StampDSCPAllow []uint16 // the DSCPs a reply may be re-marked with (RFC 8972 §4.4); [] = none
}

// The values of proxy_protocol: whether a TCP listener reads a PROXY protocol header from the balancers in
// proxy_allow before the client's data.
const (
	ProxyOff      = "off"      // never: a header is data
	ProxyOptional = "optional" // a trusted peer may send one
	ProxyRequired = "required" // every connection must start with one, from a trusted peer
)
