package config

import (
	"fmt"
	"slices"
	"time"
)

// rawDaemon is the [daemon] table as written; nil means left out.
type rawDaemon struct {
	LogLevel      *logLevel `toml:"log_level"`
	StatsInterval *duration `toml:"stats_interval"`
	UDPPeerWindow *duration `toml:"udp_peer_window"`
	ShutdownGrace *duration `toml:"shutdown_grace"`
	DrainTimeout  *duration `toml:"drain_timeout"`
	PIDFile       *string   `toml:"pid_file"`
	LogRefusals   *duration `toml:"log_refusals_every"`
	ControlSocket *string   `toml:"control_socket"`
}

// rawListener is one [[listener]] table as written; nil means left out.
type rawListener struct {
	Name               *string   `toml:"name"`
	Protocol           *Protocol `toml:"protocol"`
	Address            *string   `toml:"address"`
	Mode               *Mode     `toml:"mode"`
	MaxConns           *int64    `toml:"max_conns"`
	MaxConnsPerIP      *int64    `toml:"max_conns_per_ip"`
	Backlog            *int64    `toml:"backlog"`
	MaxLine            *int64    `toml:"max_line"`
	MaxDatagram        *int64    `toml:"max_datagram"`
	MaxOutput          *int64    `toml:"max_output"`
	IdleTimeout        *duration `toml:"idle_timeout"`
	LineTimeout        *duration `toml:"line_timeout"`
	Allow              *[]cidr   `toml:"allow"`
	AdminAllow         *[]cidr   `toml:"admin_allow"`
	TokenCredential    *string   `toml:"token_credential"`
	TokenFile          *string   `toml:"token_file"`
	Commands           *bool     `toml:"commands"`
	RateLines          *int64    `toml:"rate_lines"`
	RateDatagrams      *int64    `toml:"rate_datagrams"`
	RateBurst          *int64    `toml:"rate_burst"`
	UDPDenySourcePorts *[]int64  `toml:"udp_deny_source_ports"`
	MaxUDPPeers        *int64    `toml:"max_udp_peers"`
}

// DefaultDaemon returns the [daemon] settings used when the table or a key is left out.
func DefaultDaemon() Daemon {
	return Daemon{
		LogLevel:         "info",
		StatsInterval:    DefaultStatsInterval,
		UDPPeerWindow:    DefaultUDPPeerWindow,
		ShutdownGrace:    DefaultShutdownGrace,
		DrainTimeout:     DefaultDrainTimeout,
		LogRefusalsEvery: DefaultLogRefusalsEvery,
	}
}

func (r *rawDaemon) daemon() Daemon {
	d := DefaultDaemon()
	set(&d.LogLevel, (*string)(r.LogLevel))
	setDuration(&d.StatsInterval, r.StatsInterval)
	setDuration(&d.UDPPeerWindow, r.UDPPeerWindow)
	setDuration(&d.ShutdownGrace, r.ShutdownGrace)
	setDuration(&d.DrainTimeout, r.DrainTimeout)
	set(&d.PIDFile, r.PIDFile)
	setDuration(&d.LogRefusalsEvery, r.LogRefusals)
	set(&d.ControlSocket, r.ControlSocket)
	return d
}

// DefaultListener returns a listener of the given protocol with every default filled in:
// the keys of that protocol get their documented defaults, the others stay zero.
func DefaultListener(name string, proto Protocol, address string) Listener {
	l := Listener{Name: name, Protocol: proto, Address: address, Commands: true}
	switch proto {
	case TCP:
		l.Mode = ModeLine
		l.MaxConns = DefaultMaxConns
		l.Backlog = DefaultBacklog
		l.MaxLine = DefaultMaxLine
		l.MaxOutput = DefaultMaxOutput
		l.IdleTimeout = DefaultIdleTimeout
		l.LineTimeout = DefaultLineTimeout
		l.AdminAllow = slices.Clone(DefaultAdminAllow)
	case UDP:
		l.MaxDatagram = DefaultMaxDatagram
		l.UDPDenySources = slices.Clone(DefaultUDPDenySources)
		l.MaxUDPPeers = DefaultMaxUDPPeers
	}
	return l
}

// keyError is a bad value of one key.
type keyError struct{ key, msg string }

// listener applies the written keys over the defaults of the listener's protocol. A bad
// value is returned with its key, and that key keeps its default. Keys of the other
// protocol are copied too, so that Validate can name them. A left-out max_output grows to
// hold one full line.
func (r *rawListener) listener() (l Listener, bad []keyError) {
	var proto Protocol
	set(&proto, r.Protocol)
	l = DefaultListener("", proto, "")
	set(&l.Name, r.Name)
	if r.Address != nil {
		addr, err := normalizeAddress(*r.Address)
		if err != nil {
			bad = append(bad, keyError{"address", "address: " + err.Error()})
		}
		l.Address = addr
	}
	set(&l.Mode, r.Mode)
	setInt(&l.MaxConns, r.MaxConns)
	setInt(&l.MaxConnsPerIP, r.MaxConnsPerIP)
	setInt(&l.Backlog, r.Backlog)
	setInt(&l.MaxLine, r.MaxLine)
	setInt(&l.MaxDatagram, r.MaxDatagram)
	setInt(&l.MaxOutput, r.MaxOutput)
	if r.MaxOutput == nil && proto == TCP && l.MaxOutput <= l.MaxLine {
		l.MaxOutput = l.MaxLine + 1
	}
	setDuration(&l.IdleTimeout, r.IdleTimeout)
	setDuration(&l.LineTimeout, r.LineTimeout)
	if r.Allow != nil {
		l.Allow = prefixes(*r.Allow)
	}
	if r.AdminAllow != nil {
		l.AdminAllow = prefixes(*r.AdminAllow)
	}
	set(&l.TokenCredential, r.TokenCredential)
	set(&l.TokenFile, r.TokenFile)
	set(&l.Commands, r.Commands)
	setInt(&l.RateLines, r.RateLines)
	setInt(&l.RateDatagrams, r.RateDatagrams)
	setInt(&l.RateBurst, r.RateBurst)
	if r.UDPDenySourcePorts != nil {
		deny, err := ports(*r.UDPDenySourcePorts)
		if err != nil {
			bad = append(bad, keyError{"udp_deny_source_ports", err.Error()})
		} else {
			l.UDPDenySources = deny
		}
	}
	setInt(&l.MaxUDPPeers, r.MaxUDPPeers)
	return l, bad
}

// ports converts port numbers, sorted and without repeats.
func ports(in []int64) ([]uint16, error) {
	out := make([]uint16, 0, len(in))
	for _, p := range in {
		if p < 0 || p > 65535 {
			return nil, fmt.Errorf("udp_deny_source_ports: %d is not a port number (0..65535)", p)
		}
		out = append(out, uint16(p))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// setInt copies an int64 into an int, saturating so that range checks still fail.
func setInt(dst *int, src *int64) {
	if src == nil {
		return
	}
	v := *src
	v = max(v, int64(minInt))
	v = min(v, int64(maxInt))
	*dst = int(v)
}

const (
	maxInt = int(^uint(0) >> 1)
	minInt = -maxInt - 1
)

func setDuration(dst *time.Duration, src *duration) {
	if src != nil {
		*dst = time.Duration(*src)
	}
}
