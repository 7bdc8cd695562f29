package config

import (
	"net/netip"
	"strings"
)

// Sources of a value, as Effective names them in its comments.
const (
	FromFile    = "file"    // the key is written in the file
	FromDefault = "default" // the key is left out: its default applies
)

// Effective writes c as a TOML file with every key of the key tables filled in: the [daemon] keys, then
// each listener with the keys of its protocol, each followed by a comment naming where its value comes
// from (FromFile or FromDefault). A key whose effective value is "left out" (an unset string such as
// token_file, allow for every client, no address for a socket from systemd) is written as a comment: only
// leaving it out means that (token_credential = "" beside token_file = "" would be both tokens).
// The text decodes to the same daemon settings and listeners as c; tokens are not keys and are never in it.
// c must come from Decode or Load, which remember which keys the file wrote.
func Effective(c *Config) string {
	var b strings.Builder
	if c.Path != "" {
		b.WriteString("# The effective configuration of " + c.Path + ": every key, with its source.\n")
	}
	b.WriteString("\n[daemon]\n")
	written := func(key string) bool { return c.src != nil && c.src.dset[key] }
	for i := range daemonKeys {
		b.WriteString(effectiveKey(&daemonKeys[i], &c.Daemon, written))
	}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		written := func(key string) bool { return c.src != nil && i < len(c.src.set) && c.src.set[i][key] }
		b.WriteString("\n[[listener]]\n")
		for j := range listenerKeys {
			if k := &listenerKeys[j]; k.appliesTo(l.Protocol) {
				b.WriteString(effectiveKey(k, l, written))
			}
		}
	}
	return b.String()
}

// effectiveKey writes one line of Effective: the key, its value and where the value comes from.
func effectiveKey[T any](k *key[T], t *T, written func(string) bool) string {
	source := FromDefault
	if written(k.name) {
		source = FromFile
	}
	v := k.get(t)
	switch {
	case isNilPrefixes(v):
		return referenceLine("# "+k.name+" (left out: every client)", source)
	case v == "" && k.name == "address":
		return referenceLine("# "+k.name+" (left out: the socket comes from systemd)", source)
	case v == "" && k.name == "http":
		return referenceLine("# "+k.name+` (left out: off, or a systemd socket named "http")`, source)
	case isNoStrings(v):
		return referenceLine("# "+k.name+" (left out: none)", source)
	case v == "":
		return referenceLine("# "+k.name+" (left out: unset)", source)
	}
	return referenceLine(k.name+" = "+tomlLiteral(v), source)
}

// isNoStrings reports whether v is a list of strings with nothing in it (decoded back, "[]" would not be nil).
func isNoStrings(v any) bool {
	l, ok := v.([]string)
	return ok && len(l) == 0
}

func isNilPrefixes(v any) bool {
	p, ok := v.([]netip.Prefix)
	return ok && p == nil
}
