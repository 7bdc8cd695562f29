package config

import (
	"fmt"
	"strconv"
	"strings"
)

// FromListenFlags builds a Config from listen specs such as "tcp://127.0.0.1:7007",
// "udp://[::1]:7007" or "tcp://:7007" (127.0.0.1). Each listener has every default and
// is named after its protocol and port ("tcp-7007"), with "-2", "-3"... added when two
// would share a name. The daemon settings are the defaults. Every error is an *Error.
func FromListenFlags(specs []string) (*Config, error) {
	cfg := &Config{Daemon: DefaultDaemon()}
	used := map[string]bool{}
	for _, spec := range specs {
		proto, addr, ok := strings.Cut(spec, "://")
		if !ok || (Protocol(proto) != TCP && Protocol(proto) != UDP) {
			return nil, &Error{Msg: fmt.Sprintf("listen spec %q: want tcp://host:port or udp://host:port", spec)}
		}
		norm, err := normalizeAddress(addr)
		if err != nil {
			return nil, &Error{Msg: fmt.Sprintf("listen spec %q: %v", spec, err)}
		}
		name := uniqueName(proto+"-"+norm[strings.LastIndexByte(norm, ':')+1:], used)
		cfg.Listeners = append(cfg.Listeners, DefaultListener(name, Protocol(proto), norm))
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// uniqueName returns base, or base-2, base-3... whichever is free, and marks it used.
func uniqueName(base string, used map[string]bool) string {
	name := base
	for n := 2; used[name]; n++ {
		name = base + "-" + strconv.Itoa(n)
	}
	used[name] = true
	return name
}
