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

// Validate checks every value of c, each listener alone and then against the others
// (unique names, no two listeners on one protocol and address). Decode calls it; call it
// again after building or changing a Config by hand. The error is the first problem found.
func (c *Config) Validate() error {
	if err := c.validateDaemon(); err != nil {
		return err
	}
	for i := range c.Listeners {
		if err := c.validateListener(i); err != nil {
			return err
		}
		if err := c.validateUnique(i); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateDaemon() error {
	d := &c.Daemon
	if !slices.Contains(LogLevels, d.LogLevel) {
		return c.daemonErr("log_level", "unknown log level %q (want debug, info, warn or error)", d.LogLevel)
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
			return c.daemonErr(dur.key, "%s must not be negative", dur.key)
		}
	}
	if d.UDPPeerWindow < time.Second {
		return c.daemonErr("udp_peer_window", "udp_peer_window must be at least 1s (peers are aged once a second)")
	}
	if d.StatsInterval > 0 && d.StatsInterval < time.Second {
		return c.daemonErr("stats_interval", "stats_interval must be \"0s\" (off) or at least 1s")
	}
	if d.LogRefusalsEvery < time.Second {
		return c.daemonErr("log_refusals_every", "log_refusals_every must be at least 1s")
	}
	if d.ControlSocket != "" && !filepath.IsAbs(d.ControlSocket) {
		return c.daemonErr("control_socket", "control_socket %q must be an absolute path", d.ControlSocket)
	}
	return nil
}

func (c *Config) validateListener(i int) error {
	l := &c.Listeners[i]
	switch {
	case l.Name == "":
		return c.listenerErr(i, "", "name is required")
	case !nameRE.MatchString(l.Name):
		return c.listenerErr(i, "name", "name %q is not valid: use 1 to 64 characters from a-z 0-9 . _ -", l.Name)
	case l.Protocol == "":
		return c.listenerErr(i, "", `protocol is required ("tcp" or "udp")`)
	case l.Protocol != TCP && l.Protocol != UDP:
		return c.listenerErr(i, "protocol", `unknown protocol %q (want "tcp" or "udp")`, l.Protocol)
	}
	if l.Address != "" {
		if _, err := normalizeAddress(l.Address); err != nil {
			return c.listenerErr(i, "address", "address %v", err)
		}
	}
	for _, k := range listenerKeys {
		if k.only != "" && k.only != l.Protocol && c.isSet(i, k) {
			return c.listenerErr(i, k.name, "%s applies only to %s listeners (this one is %s)", k.name, k.only, l.Protocol)
		}
	}
	if err := c.validateCommon(i); err != nil {
		return err
	}
	if l.Protocol == TCP {
		return c.validateTCP(i)
	}
	return c.validateUDP(i)
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

func (c *Config) validateCommon(i int) error {
	l := &c.Listeners[i]
	if l.Allow != nil && len(l.Allow) == 0 {
		return c.listenerErr(i, "allow", "allow = [] would refuse every client; leave allow out to admit everyone")
	}
	if err := c.checkPrefixes(i, "allow", l.Allow); err != nil {
		return err
	}
	return c.checkRange(i, "rate_burst", l.RateBurst, 0, MaxRate)
}

func (c *Config) validateTCP(i int) error {
	l := &c.Listeners[i]
	if l.Mode != ModeLine && l.Mode != ModeRaw {
		return c.listenerErr(i, "mode", `unknown mode %q (want "line" or "raw")`, l.Mode)
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
		if err := c.checkRange(i, ck.key, ck.v, ck.lo, ck.hi); err != nil {
			return err
		}
	}
	if l.IdleTimeout < 0 {
		return c.listenerErr(i, "idle_timeout", "idle_timeout must not be negative")
	}
	if l.LineTimeout < 0 {
		return c.listenerErr(i, "line_timeout", "line_timeout must not be negative")
	}
	if err := c.checkPrefixes(i, "admin_allow", l.AdminAllow); err != nil {
		return err
	}
	return c.validateTokenSource(i)
}

func (c *Config) validateUDP(i int) error {
	l := &c.Listeners[i]
	if err := c.checkRange(i, "max_datagram", l.MaxDatagram, 1, MaxDatagramLimit); err != nil {
		return err
	}
	if err := c.checkRange(i, "rate_datagrams", l.RateDatagrams, 0, MaxRate); err != nil {
		return err
	}
	return c.checkRange(i, "max_udp_peers", l.MaxUDPPeers, 1, MaxUDPPeersLimit)
}

func (c *Config) validateTokenSource(i int) error {
	l := &c.Listeners[i]
	cred, file := c.isSetKey(i, "token_credential"), c.isSetKey(i, "token_file")
	switch {
	case cred && file:
		return c.listenerErr(i, "token_file", "token_credential and token_file are mutually exclusive; use one")
	case cred && !validCredentialName(l.TokenCredential):
		return c.listenerErr(i, "token_credential", "token_credential %q must be a file name in $CREDENTIALS_DIRECTORY (no '/', not \".\" or \"..\")", l.TokenCredential)
	case file && !filepath.IsAbs(l.TokenFile):
		return c.listenerErr(i, "token_file", "token_file %q must be an absolute path", l.TokenFile)
	}
	return nil
}

func validCredentialName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

func (c *Config) checkRange(i int, key string, v, lo, hi int) error {
	if v < lo || v > hi {
		if key == "max_output" && lo > 1 {
			return c.listenerErr(i, key, "max_output must be between %d (max_line+1) and %d", lo, hi)
		}
		return c.listenerErr(i, key, "%s must be between %d and %d", key, lo, hi)
	}
	return nil
}

func (c *Config) checkPrefixes(i int, key string, ps []netip.Prefix) error {
	for _, p := range ps {
		if !p.IsValid() || p.Masked() != p {
			return c.listenerErr(i, key, "%s: bad CIDR %q", key, p.String())
		}
	}
	return nil
}

// validateUnique compares listener i with the ones before it.
func (c *Config) validateUnique(i int) error {
	l := &c.Listeners[i]
	for j := range i {
		o := &c.Listeners[j]
		if o.Name == l.Name {
			return c.listenerErr(i, "name", "name %q is already used by another listener%s", l.Name, c.lineOf(j))
		}
		if o.Protocol != l.Protocol || o.Address == "" || l.Address == "" {
			continue
		}
		a, errA := netip.ParseAddrPort(o.Address)
		b, errB := netip.ParseAddrPort(l.Address)
		if errA == nil && errB == nil && overlaps(a, b) {
			return c.listenerErr(i, "address", "address %s overlaps listener %q (%s %s)", l.Address, o.Name, o.Protocol, o.Address)
		}
	}
	return nil
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
