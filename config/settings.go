package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Setting is one key of a listener with its effective value (after defaults).
type Setting struct {
	Key   string
	Value any // JSON-ready: a duration is its string ("5m0s"), a list of CIDRs a list of strings, nil = every client
}

// Settings returns the effective value of every key that applies to l's protocol, in the order of the key
// table. The token is not a key, so it is never among them; token_credential and token_file name where it
// comes from.
func Settings(l *Listener) []Setting {
	var out []Setting
	for _, k := range listenerKeys {
		if k.only != "" && k.only != l.Protocol {
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
		s := make([]string, len(v))
		for i, p := range v {
			s[i] = p.String()
		}
		return s
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
		s := make([]string, len(v))
		for i, p := range v {
			s[i] = p.String()
		}
		return "[" + strings.Join(s, ",") + "]"
	case []uint16:
		s := make([]string, len(v))
		for i, p := range v {
			s[i] = strconv.Itoa(int(p))
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	return fmt.Sprint(v)
}
