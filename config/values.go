package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// parseDuration parses a non-negative duration that carries a unit. Unlike time.Duration in
// BurntSushi/toml, a bare number ("5", which would mean 5ns) is refused.
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New(`empty duration (write e.g. "30s")`)
	}
	if strings.IndexFunc(s, isUnitRune) < 0 {
		return 0, fmt.Errorf("missing unit in duration %q (write e.g. \"%ss\")", s, s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (write e.g. \"30s\", \"5m\", \"1h30m\")", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("duration %q must not be negative", s)
	}
	return v, nil
}

func isUnitRune(r rune) bool { return r >= 'a' && r <= 'z' || r == 'µ' || r == 'μ' }

// parseCIDR parses a client address range. A bare address means that one host (/32 or /128). A prefix with
// host bits set ("10.1.2.3/8") is refused: it is almost always a typo.
func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q (want e.g. \"10.0.0.0/8\" or \"::1/128\")", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad CIDR %q (want e.g. \"10.0.0.0/8\" or \"::1/128\")", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("CIDR %q has host bits set (did you mean %q?)", s, m.String())
	}
	return p, nil
}

// shortDuration writes d as a config file would: "60s", "5m".
func shortDuration(d time.Duration) string {
	switch {
	case d%time.Minute == 0 && d > time.Minute:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
