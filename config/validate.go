package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

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
)

// nameRE is what a listener name may look like.
var nameRE = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)

// msgNoListeners is the message for a config without a listener. An empty or truncated file is refused by
// check, run and every reload alike, so that a file caught half-written never closes every port.
const msgNoListeners = "no [[listener]] table: a config must declare at least one listener"

// Validate checks every value of c, each listener alone and then against the others (unique names, no two
// listeners on one protocol with overlapping addresses), and that there is at least one listener. Decode
// calls it; call it again after building or changing a Config by hand. The error is Errors: every problem
// found, in file order.
func (c *Config) Validate() error {
	v := &validator{c: c, errs: &errorList{file: c.Path}}
	v.all()
	return v.errs.err()
}

// validator collects the errors of one Validate.
type validator struct {
	c    *Config
	errs *errorList
	// failed holds, per listener, the keys whose values did not decode (Decode reported them): checks that
	// would only repeat them are left out. nil for a Config built by hand.
	failed []map[string]bool
	// daemonFailed is set when a [daemon] value did not decode: its checks are left out.
	daemonFailed bool
}

func (v *validator) all() {
	if !v.daemonFailed {
		v.daemon()
	}
	if len(v.c.Listeners) == 0 {
		v.errs.add(&Error{File: v.c.Path, Msg: msgNoListeners})
	}
	for i := range v.c.Listeners {
		v.listener(i)
	}
	v.unique()
}

// add records an error on key of listener i.
func (v *validator) add(i int, key, format string, args ...any) {
	v.errs.add(v.c.listenerErr(i, key, format, args...))
}

func (v *validator) failedKey(i int, key string) bool {
	return i < len(v.failed) && v.failed[i][key]
}

func (v *validator) daemon() {
	c, d := v.c, &v.c.Daemon
	if !slices.Contains(LogLevels, d.LogLevel) {
		v.errs.add(c.daemonErr("log_level", "unknown log level %q (want debug, info, warn or error)", d.LogLevel))
	}
	durations := []struct {
		key string
		v   time.Duration
	}{
		{"stats_interval", d.StatsInterval}, {"udp_peer_window", d.UDPPeerWindow},
		{"shutdown_grace", d.ShutdownGrace}, {"drain_timeout", d.DrainTimeout},
		{"log_refusals_every", d.LogRefusalsEvery},
	}
	for _, dur := range durations {
		if dur.v < 0 {
			v.errs.add(c.daemonErr(dur.key, "%s must not be negative", dur.key))
		}
	}
	if d.UDPPeerWindow >= 0 && d.UDPPeerWindow < time.Second {
		v.errs.add(c.daemonErr("udp_peer_window", "udp_peer_window must be at least 1s (peers are aged once a second)"))
	}
	if d.StatsInterval > 0 && d.StatsInterval < time.Second {
		v.errs.add(c.daemonErr("stats_interval", "stats_interval must be \"0s\" (off) or at least 1s"))
	}
	if d.LogRefusalsEvery >= 0 && d.LogRefusalsEvery < time.Second {
		v.errs.add(c.daemonErr("log_refusals_every", "log_refusals_every must be at least 1s"))
	}
	if d.ControlSocket != "" && !filepath.IsAbs(d.ControlSocket) {
		v.errs.add(c.daemonErr("control_socket", "control_socket %q must be an absolute path", d.ControlSocket))
	}
}

// listener checks listener i alone. The checks of its protocol's keys run only once the protocol is known.
func (v *validator) listener(i int) {
	l := &v.c.Listeners[i]
	if v.failedKey(i, "") {
		return // not a table: there is nothing to check
	}
	switch {
	case v.failedKey(i, "name"):
	case l.Name == "":
		v.add(i, "", "name is required")
	case !nameRE.MatchString(l.Name):
		v.add(i, "name", "name %q is not valid: use 1 to 64 characters from a-z 0-9 . _ -", l.Name)
	}
	if l.Address != "" && v.c.src == nil { // Decode has checked it already
		if _, err := normalizeAddress(l.Address); err != nil {
			v.add(i, "address", "address %v", err)
		}
	}
	v.common(i)
	switch {
	case v.failedKey(i, "protocol"):
	case l.Protocol == "":
		v.add(i, "", `protocol is required ("tcp" or "udp")`)
	case l.Protocol != TCP && l.Protocol != UDP:
		v.add(i, "protocol", `unknown protocol %q (want "tcp" or "udp")`, l.Protocol)
	default:
		for _, k := range listenerKeys {
			if k.only != "" && k.only != l.Protocol && v.c.isSet(i, k) {
				v.add(i, k.name, "%s applies only to %s listeners (this one is %s)", k.name, k.only, l.Protocol)
			}
		}
		if l.Protocol == TCP {
			v.tcp(i)
		} else {
			v.udp(i)
		}
	}
}

// isSet reports whether key k was written for listener i (or, for a Config not
// decoded from text, holds a non-zero value).
func (c *Config) isSet(i int, k keySpec) bool {
	if c.src != nil && c.src.set != nil && i < len(c.src.set) {
		return c.src.set[i][k.name]
	}
	return !reflect.ValueOf(k.get(&c.Listeners[i])).IsZero()
}

func (c *Config) isSetKey(i int, name string) bool {
	k, _ := listenerKeySpec(name)
	return c.isSet(i, k)
}

func (v *validator) common(i int) {
	l := &v.c.Listeners[i]
	if l.Allow != nil && len(l.Allow) == 0 {
		v.add(i, "allow", "allow = [] would refuse every client; leave allow out to admit everyone")
	}
	v.prefixes(i, "allow", l.Allow)
	v.inRange(i, "rate_burst", l.RateBurst, 0, MaxRate)
}

func (v *validator) tcp(i int) {
	l := &v.c.Listeners[i]
	if l.Mode != ModeLine && l.Mode != ModeRaw {
		v.add(i, "mode", `unknown mode %q (want "line" or "raw")`, l.Mode)
	}
	minOutput := 1
	if l.Mode == ModeLine {
		minOutput = l.MaxLine + 1
	}
	checks := []struct {
		key       string
		v, lo, hi int
	}{
		{"max_conns", l.MaxConns, 1, MaxConnsLimit},
		{"max_conns_per_ip", l.MaxConnsPerIP, 0, MaxConnsLimit},
		{"backlog", l.Backlog, 1, MaxBacklog},
		{"max_line", l.MaxLine, 1, MaxLineLimit},
		{"max_output", l.MaxOutput, minOutput, MaxOutputLimit},
		{"rate_lines", l.RateLines, 0, MaxRate},
	}
	for _, ck := range checks {
		v.inRange(i, ck.key, ck.v, ck.lo, ck.hi)
	}
	if l.IdleTimeout < 0 {
		v.add(i, "idle_timeout", "idle_timeout must not be negative")
	}
	if l.LineTimeout < 0 {
		v.add(i, "line_timeout", "line_timeout must not be negative")
	}
	v.prefixes(i, "admin_allow", l.AdminAllow)
	v.tokenSource(i)
}

func (v *validator) udp(i int) {
	l := &v.c.Listeners[i]
	v.inRange(i, "max_datagram", l.MaxDatagram, 1, MaxDatagramLimit)
	v.inRange(i, "rate_datagrams", l.RateDatagrams, 0, MaxRate)
	v.inRange(i, "max_udp_peers", l.MaxUDPPeers, 1, MaxUDPPeersLimit)
}

func (v *validator) tokenSource(i int) {
	l := &v.c.Listeners[i]
	cred, file := v.c.isSetKey(i, "token_credential"), v.c.isSetKey(i, "token_file")
	switch {
	case cred && file:
		v.add(i, "token_file", "token_credential and token_file are mutually exclusive; use one")
	case cred && !validCredentialName(l.TokenCredential):
		v.add(i, "token_credential", "token_credential %q must be a file name in $CREDENTIALS_DIRECTORY (no '/', not \".\" or \"..\")", l.TokenCredential)
	case file && !filepath.IsAbs(l.TokenFile):
		v.add(i, "token_file", "token_file %q must be an absolute path", l.TokenFile)
	}
}

func validCredentialName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

// inRange checks that key of listener i, already decoded (a value that did not decode is not checked again),
// is between lo and hi.
func (v *validator) inRange(i int, key string, n, lo, hi int) {
	switch {
	case n >= lo && n <= hi, v.failedKey(i, key):
	case key == "max_output" && lo > 1:
		v.add(i, key, "max_output must be between %d (max_line+1) and %d", lo, hi)
	default:
		v.add(i, key, "%s must be between %d and %d", key, lo, hi)
	}
}

func (v *validator) prefixes(i int, key string, ps []netip.Prefix) {
	for _, p := range ps {
		if !p.IsValid() || p.Masked() != p {
			v.add(i, key, "%s: bad CIDR %q", key, p.String())
			return
		}
	}
}

// unique finds listeners that share a name, and listeners on one protocol whose addresses overlap (see
// bindSet), in one pass: each listener is compared with the first earlier one that clashes.
func (v *validator) unique() {
	c := v.c
	names := make(map[string]int, len(c.Listeners))
	ports := newBindSet(len(c.Listeners))
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.Name != "" {
			if j, dup := names[l.Name]; dup {
				v.add(i, "name", "name %q is already used by another listener%s", l.Name, c.lineOf(j))
			} else {
				names[l.Name] = i
			}
		}
		if l.Address == "" || (l.Protocol != TCP && l.Protocol != UDP) {
			continue
		}
		ap, err := netip.ParseAddrPort(l.Address) // as Decode writes it; by hand it may be ":7007"
		if err != nil {
			if ap, err = parseAddrPort(l.Address); err != nil {
				continue
			}
		}
		if j := ports.add(l.Protocol, ap, i); j >= 0 {
			o := &c.Listeners[j]
			oap, _ := parseAddrPort(o.Address)
			v.add(i, "address", "address %s overlaps listener %q (%s %s)%s", l.Address, o.Name, o.Protocol, o.Address,
				overlapReason(ap.Addr(), oap.Addr()))
		}
	}
}

// lineOf says where listener j is, when known: " (line 12)".
func (c *Config) lineOf(j int) string {
	if c.src == nil {
		return ""
	}
	if p := c.src.ix.listenerKey(j, ""); p.line > 0 {
		return fmt.Sprintf(" (line %d)", p.line)
	}
	return ""
}

// ListenerError returns an *Error for listener i with the place of key in the file (the listener's table
// header when key is "" or was not written): for problems found outside this package, such as a bind that
// fails in `echogate check -bind`.
func (c *Config) ListenerError(i int, key, msg string) *Error {
	return c.listenerErr(i, key, "%s", msg)
}

// listenerErr builds the *Error for key of listener i; key "" places it on the table header.
func (c *Config) listenerErr(i int, key, format string, args ...any) *Error {
	e := &Error{Listener: c.Listeners[i].Name, Msg: fmt.Sprintf(format, args...)}
	if c.src != nil {
		p := c.src.ix.listenerKey(i, key)
		e.File, e.Line, e.Col = c.src.file, p.line, p.col
	} else {
		e.File = c.Path
	}
	return e
}

func (c *Config) daemonErr(key, format string, args ...any) *Error {
	e := &Error{Msg: fmt.Sprintf(format, args...)}
	if c.src != nil {
		p := c.src.ix.daemonKey(key)
		e.File, e.Line, e.Col = c.src.file, p.line, p.col
	} else {
		e.File = c.Path
	}
	return e
}
