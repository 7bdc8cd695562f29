// Package logmsg names every message echogate logs: the msg values are these constants and nothing else,
// so that operators can match and alert on them. What differs between two events of one message is in the
// attributes, most often event= (a short phrase) and err=. The README lists them (a test keeps it so).
package logmsg

// The life of the daemon and its listeners.
const (
	Serving      = "serving"                      // a listener serves: listener=, protocol=, addr=
	Adopted      = "adopting socket from systemd" // a listener takes the socket systemd passed under its name
	SocketKept   = "socket left alone"            // a socket from systemd that no listener serves stays open: event=
	Ready        = "echogate ready"               // every listener serves: listeners=, version=
	Stopped      = "echogate stopped"             // the daemon exits; err= when it could not serve
	ShuttingDown = "shutting down"                // a graceful stop begins: reason=, connections=, grace=
	ConnsClosed  = "connections closed"           // connections ended by the daemon: event= says why
	ConnClosed   = "connection closed"            // debug: one connection ended: listener=, peer=, reason=
	LineTimeout  = "line timeout"                 // debug: a line took longer than line_timeout
	Stats        = "stats"                        // the stats_interval line: the daemon's totals
	FileLimit    = "open-file limit"              // RLIMIT_NOFILE raised, or not: event=
	PIDFile      = "cannot write pid_file"        // err=
	Notify       = "sd_notify failed"             // a message to systemd was not sent: err=
	Signal       = "signal"                       // a signal that asks for something: signal=, event=
	LogsDropped  = "log lines dropped"            // lines lost to a slow log reader: count=, total=
	State        = "state"                        // the daemon's state changed: state=, was=, by= (reload or control socket)
	HTTP         = "http endpoint"                // the HTTP endpoint serves: addr=; or event= (stopped, refused, scrape failed), err=
	TestHook     = "test hook"                    // only in test builds (-tags echogate_testhooks): event=, for=
)

// Reloads.
const (
	Reload         = "reload"                            // one line per reload: result=, added=, removed=, …, took=
	ReloadListener = "reload: listener"                  // one line per listener a reload changed: action=, changed=
	ReloadDaemon   = "reload: daemon settings"           // the [daemon] keys a reload changed: changed=
	ReloadFailed   = "reload failed"                     // the new config was rejected; the running one serves: err=
	ReloadPartial  = "reload: listener not started"      // the plan was applied but a listener could not start: err=
	ReloadSkipped  = "reload skipped"                    // nothing was reloaded: event= says why
	ConfigWatch    = "config watch"                      // the file watcher: event=, and err= when it failed
	ControlSocket  = "control socket"                    // the control socket: event=, path=, and the client's uid=, pid=
	HostAddresses  = "host addresses"                    // the host's addresses, for the UDP own-socket rule: event=
	NoPktinfo      = "IP_PKTINFO unavailable"            // a wildcard UDP socket may reply from another address: event=
	NoRxControl    = "receive control data unavailable"  // a UDP socket's TTL, TOS or kernel timestamps are not known: event=
	NoGRO          = "UDP_GRO unavailable"               // a UDP socket receives coalesced datagrams cut up: event=
	NoIdlePriority = "TLS handshakes at normal priority" // the kernel refused SCHED_IDLE for handshake threads (once): err=
)

// What clients cause.
const (
	Refused           = "refused"              // refusals summarised per listener and reason: reason=, count=, last_peer=
	ShutdownRequested = "shutdown requested"   // a /shutdown with the right token: listener=, peer=
	ShutdownLocked    = "shutdown locked"      // too many bad tokens from all addresses: /shutdown is refused to all
	AcceptFailed      = "accept failed"        // accept(2) failed: listener=, err=, and event= when it pauses
	EpollFailed       = "epoll failed"         // an epoll_ctl call failed: op=, listener=, err=
	RecvFailed        = "recvmmsg failed"      // listener=, err=
	ProxyRefused      = "PROXY header refused" // debug: a PROXY header was malformed, truncated, too slow, missing: err=
	NoSavedSYN        = "no saved SYN"         // debug: /whoami found no SYN saved by the kernel: err=
	TLSFailed         = "tls handshake failed" // debug: a TLS handshake failed or timed out: listener=, peer=, err=
)
