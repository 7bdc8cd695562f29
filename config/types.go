package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// duration is a TOML duration string such as "30s" or "5m". Unlike time.Duration in
// BurntSushi/toml, a bare number ("5", which would mean 5ns) is refused.
type duration time.Duration

// UnmarshalText parses a non-negative duration that carries a unit.
func (d *duration) UnmarshalText(b []byte) error {
	s := string(b)
	if s == "" {
		return errors.New(`empty duration (write e.g. "30s")`)
	}
	if strings.IndexFunc(s, isUnitRune) < 0 {
		return fmt.Errorf("missing unit in duration %q (write e.g. \"%ss\")", s, s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q (write e.g. \"30s\", \"5m\", \"1h30m\")", s)
	}
	if v < 0 {
		return fmt.Errorf("duration %q must not be negative", s)
	}
	*d = duration(v)
	return nil
}

func isUnitRune(r rune) bool { return r >= 'a' && r <= 'z' || r == 'µ' || r == 'μ' }

// UnmarshalText accepts "tcp" or "udp".
func (p *Protocol) UnmarshalText(b []byte) error {
	switch v := Protocol(b); v {
	case TCP, UDP:
		*p = v
		return nil
	}
	return fmt.Errorf("unknown protocol %q (want \"tcp\" or \"udp\")", b)
}

// UnmarshalText accepts "line" or "raw".
func (m *Mode) UnmarshalText(b []byte) error {
	switch v := Mode(b); v {
	case ModeLine, ModeRaw:
		*m = v
		return nil
	}
	return fmt.Errorf("unknown mode %q (want \"line\" or \"raw\")", b)
}

// logLevel is one of the level names slog understands, in lower case.
type logLevel string

// LogLevels are the accepted values of [daemon] log_level.
var LogLevels = []string{"debug", "info", "warn", "error"}

// UnmarshalText accepts one of LogLevels.
func (l *logLevel) UnmarshalText(b []byte) error {
	for _, v := range LogLevels {
		if string(b) == v {
			*l = logLevel(v)
			return nil
		}
	}
	return fmt.Errorf("unknown log level %q (want debug, info, warn or error)", b)
}

// cidr is a client address range. A bare address means that one host (/32 or /128).
// A prefix with host bits set ("10.1.2.3/8") is refused: it is almost always a typo.
type cidr netip.Prefix

// UnmarshalText parses a CIDR or a bare IP address.
func (c *cidr) UnmarshalText(b []byte) error {
	p, err := parseCIDR(string(b))
	if err != nil {
		return err
	}
	*c = cidr(p)
	return nil
}

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

func prefixes(in []cidr) []netip.Prefix {
	out := make([]netip.Prefix, len(in))
	for i, c := range in {
		out[i] = netip.Prefix(c)
	}
	return out
}
