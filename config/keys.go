package config

import "slices"

// keySpec describes one TOML key of a table: where it applies, what its value must be
// (for type errors) and how to read it from the decoded value (for Plan).
type keySpec struct {
	name string
	only Protocol // "" = every listener; otherwise the only protocol the key applies to
	want string   // the expected value, as in "max_line must be <want>"
	get  func(l *Listener) any
}

// listenerKeys are the keys of a [[listener]] table, in the order the issues list them.
var listenerKeys = []keySpec{
	{"name", "", "a string", func(l *Listener) any { return l.Name }},
	{"protocol", "", `"tcp" or "udp"`, func(l *Listener) any { return l.Protocol }},
	{"address", "", `a "host:port" string`, func(l *Listener) any { return l.Address }},
	{"mode", TCP, `"line" or "raw"`, func(l *Listener) any { return l.Mode }},
	{"max_conns", TCP, "an integer", func(l *Listener) any { return l.MaxConns }},
	{"max_conns_per_ip", TCP, "an integer", func(l *Listener) any { return l.MaxConnsPerIP }},
	{"backlog", TCP, "an integer", func(l *Listener) any { return l.Backlog }},
	{"max_line", TCP, "an integer", func(l *Listener) any { return l.MaxLine }},
	{"max_datagram", UDP, "an integer", func(l *Listener) any { return l.MaxDatagram }},
	{"max_output", TCP, "an integer", func(l *Listener) any { return l.MaxOutput }},
	{"idle_timeout", TCP, `a duration string like "5m"`, func(l *Listener) any { return l.IdleTimeout }},
	{"line_timeout", TCP, `a duration string like "60s"`, func(l *Listener) any { return l.LineTimeout }},
	{"allow", "", "an array of CIDR strings", func(l *Listener) any { return l.Allow }},
	{"admin_allow", TCP, "an array of CIDR strings", func(l *Listener) any { return l.AdminAllow }},
	{"token_credential", TCP, "a string", func(l *Listener) any { return l.TokenCredential }},
	{"token_file", TCP, "a string", func(l *Listener) any { return l.TokenFile }},
	{"commands", "", "true or false", func(l *Listener) any { return l.Commands }},
	{"rate_lines", TCP, "an integer", func(l *Listener) any { return l.RateLines }},
	{"rate_datagrams", UDP, "an integer", func(l *Listener) any { return l.RateDatagrams }},
	{"rate_burst", "", "an integer", func(l *Listener) any { return l.RateBurst }},
	{"udp_deny_source_ports", UDP, "an array of port numbers", func(l *Listener) any { return l.UDPDenySources }},
	{"max_udp_peers", UDP, "an integer", func(l *Listener) any { return l.MaxUDPPeers }},
}

// daemonKey describes one key of the [daemon] table.
type daemonKey struct {
	name string
	want string
	get  func(d *Daemon) any
}

// daemonKeys are the keys of the [daemon] table.
var daemonKeys = []daemonKey{
	{"log_level", "debug, info, warn or error", func(d *Daemon) any { return d.LogLevel }},
	{"stats_interval", `a duration string like "60s"`, func(d *Daemon) any { return d.StatsInterval }},
	{"udp_peer_window", `a duration string like "60s"`, func(d *Daemon) any { return d.UDPPeerWindow }},
	{"shutdown_grace", `a duration string like "5s"`, func(d *Daemon) any { return d.ShutdownGrace }},
	{"drain_timeout", `a duration string like "5m"`, func(d *Daemon) any { return d.DrainTimeout }},
	{"pid_file", "a string", func(d *Daemon) any { return d.PIDFile }},
	{"log_refusals_every", `a duration string like "10s"`, func(d *Daemon) any { return d.LogRefusalsEvery }},
	{"control_socket", "a string", func(d *Daemon) any { return d.ControlSocket }},
}

// topKeys are the keys allowed at the top level of the file.
var topKeys = []string{"daemon", "listener"}

func listenerKeyNames() []string {
	names := make([]string, len(listenerKeys))
	for i, k := range listenerKeys {
		names[i] = k.name
	}
	return names
}

func daemonKeyNames() []string {
	names := make([]string, len(daemonKeys))
	for i, k := range daemonKeys {
		names[i] = k.name
	}
	return names
}

func listenerKeySpec(name string) (keySpec, bool) {
	i := slices.IndexFunc(listenerKeys, func(k keySpec) bool { return k.name == name })
	if i < 0 {
		return keySpec{}, false
	}
	return listenerKeys[i], true
}

func wantListener(name string) string {
	k, _ := listenerKeySpec(name)
	return k.want
}

func wantDaemon(name string) string {
	for _, k := range daemonKeys {
		if k.name == name {
			return k.want
		}
	}
	return ""
}
