package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Setting is one key of a listener with its effective value (after defaults).
type Setting struct {
	Key   string
	Value any // JSON-ready: a duration is its string ("5m0s"), a list of CIDRs a list of strings, nil = every client
}

// Settings returns the effective value of every key that applies to l's protocol (the stamp_ keys only in
// mode "stamp"), in the order of the key table. The token is not a key, so it is never among them; token_credential and token_file name where it
// comes from.
func Settings(l *Listener) []Setting {
	var out []Setting
	for _, k := range listenerKeys {
		if k.only != "" && k.only != l.Protocol || l.Mode != ModeStamp && slices.Contains(stampKeys, k.name) {
			continue
		}
		out = append(out, Setting{Key: k.name, Value: jsonValue(k.get(l))})
	}
	return out
}

// jsonValue turns a decoded value into one that encoding/json writes as the TOML file would.
func jsonValue(v any) any {
	switch v := v.(type) {
	case time.Duration:
		return v.String()
	case []netip.Prefix:
		if v == nil {
			return nil
		}
		return listOf(v, netip.Prefix.String)
	}
	return v
}

// FormatValue writes a decoded key value for a log line: durations as "5m0s", lists as "[a,b]", an omitted
// allow list as "any", an empty string as `""`.
func FormatValue(v any) string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return `""`
		}
		return v
	case time.Duration:
		return v.String()
	case []netip.Prefix:
		if v == nil {
			return "any"
		}
		return "[" + strings.Join(listOf(v, netip.Prefix.String), ",") + "]"
	case []uint16:
		return "[" + strings.Join(listOf(v, portString), ",") + "]"
	case []string:
		return "[" + strings.Join(v, ",") + "]"
	}
	return fmt.Sprint(v)
}

// listOf writes every element of list with format.
func listOf[E any](list []E, format func(E) string) []string {
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = format(e)
	}
	return out
}

func portString(p uint16) string { return strconv.Itoa(int(p)) }
