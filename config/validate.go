package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
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
	// daemonFailed holds the [daemon] keys whose values did not decode: their checks are left out.
	daemonFailed map[string]bool
}

func (v *validator) all() {
	v.daemon()
	if len(v.c.Listeners) == 0 {
		v.errs.add(&Error{File: v.c.Path, Msg: msgNoListeners})
	}
	for i := range v.c.Listeners {
		v.listener(i)
	}
	v.unique()
	v.agents()
}

// add records an error on key of listener i.
func (v *validator) add(i int, key, format string, args ...any) {
	v.errs.add(v.c.listenerErr(i, key, format, args...))
}

func (v *validator) failedKey(i int, key string) bool {
	return i < len(v.failed) && v.failed[i][key]
}

// daemon checks the [daemon] values with the rules of their keys.
func (v *validator) daemon() {
	for i := range daemonKeys {
		if v.daemonFailed[daemonKeys[i].name] {
			continue
		}
		if msg := daemonKeys[i].check(&v.c.Daemon); msg != "" {
			v.errs.add(v.c.daemonErr(daemonKeys[i].name, "%s", msg))
		}
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
	switch {
	case v.failedKey(i, "protocol"):
	case l.Protocol == "":
		v.add(i, "", `protocol is required ("tcp" or "udp")`)
	case l.Protocol != TCP && l.Protocol != UDP:
		v.add(i, "protocol", `unknown protocol %q (want "tcp" or "udp")`, l.Protocol)
	default:
		v.keys(i, l.Protocol)
		if l.Protocol == TCP {
			v.tokenSource(i)
			v.proxyAllow(i)
			v.tlsSources(i)
		}
		v.mode(i)
		return
	}
	v.keys(i, "") // the protocol is not known: only the keys of every listener are checked
}

// keys checks each key of listener i by the rules of its key: the keys of protocol proto must hold good
// values, the others must not be written. proto "" checks only the keys of every listener.
func (v *validator) keys(i int, proto Protocol) {
	l := &v.c.Listeners[i]
	for j := range listenerKeys {
		k := &listenerKeys[j]
		switch {
		case !k.appliesTo(proto):
			if proto != "" && v.c.isSet(i, k) {
				v.add(i, k.name, "%s applies only to %s listeners (this one is %s)", k.name, k.only, l.Protocol)
			}
		case !v.failedKey(i, k.name): // a value that did not decode is not checked again
			if msg := k.check(l); msg != "" {
				v.add(i, k.name, "%s", msg)
			}
		}
	}
}

// isSet reports whether key k was written for listener i (or, for a Config not
// decoded from text, holds a non-zero value).
func (c *Config) isSet(i int, k *keySpec) bool {
	if c.src != nil && c.src.set != nil && i < len(c.src.set) {
		return c.src.set[i][k.name]
	}
	return !reflect.ValueOf(k.get(&c.Listeners[i])).IsZero()
}

func (c *Config) isSetKey(i int, name string) bool {
	k, _ := listenerKeySpec(name)
	return c.isSet(i, k)
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
