package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func baseListener(p Protocol) Listener {
	l := Listener{Name: "x", Protocol: p, Address: "127.0.0.1:7", Commands: true, RateBurst: 0}
	if p == TCP {
		l.Mode, l.MaxConns, l.Backlog, l.MaxLine, l.MaxOutput = ModeLine, DefaultMaxConns, DefaultBacklog, DefaultMaxLine, DefaultMaxOutput
		l.IdleTimeout, l.LineTimeout, l.AdminAllow = DefaultIdleTimeout, DefaultLineTimeout, DefaultAdminAllow
		l.ProxyProtocol, l.ProxyTimeout = ProxyOff, DefaultProxyTimeout
		l.TLSClientAuth, l.TLSMinVersion, l.TLSHandshakeTimeout = TLSAuthNone, "1.2", DefaultTLSHandshakeTimeout
	} else {
		l.MaxDatagram, l.MaxUDPPeers, l.UDPDenySources = DefaultMaxDatagram, DefaultMaxUDPPeers, DefaultUDPDenySources
		l.Mode, l.StampAuth, l.StampTimestamp, l.StampDSCPAllow = ModeEcho, StampAuthOff, StampNTP, DefaultStampDSCPAllow
	}
	return l
}

// ListenerDiff gives old and new values for every key of the key table, and never a token's content.
func TestListenerDiffEveryKey(t *testing.T) {
	cases := []struct {
		key    string
		proto  Protocol
		change func(l *Listener)
		want   string
	}{
		{"name", TCP, func(l *Listener) { l.Name = "y" }, "name x→y"},
		{"mode protocol", TCP, func(l *Listener) { *l = baseListener(UDP) }, "mode line→echo protocol tcp→udp"},
		{"address", TCP, func(l *Listener) { l.Address = "" }, `address 127.0.0.1:7→""`},
		{"mode", TCP, func(l *Listener) { l.Mode = ModeRaw }, "mode line→raw"},
		{"max_conns", TCP, func(l *Listener) { l.MaxConns = 50 }, "max_conns 1024→50"},
		{"max_conns_per_ip", TCP, func(l *Listener) { l.MaxConnsPerIP = 2 }, "max_conns_per_ip 0→2"},
		{"backlog", TCP, func(l *Listener) { l.Backlog = 16 }, "backlog 128→16"},
		{"max_line", TCP, func(l *Listener) { l.MaxLine = 100 }, "max_line 4096→100"},
		{"max_datagram", UDP, func(l *Listener) { l.MaxDatagram = 512 }, "max_datagram 65535→512"},
		{"max_output", TCP, func(l *Listener) { l.MaxOutput = 8192 }, "max_output 65536→8192"},
		{"idle_timeout", TCP, func(l *Listener) { l.IdleTimeout = 30 * time.Second }, "idle_timeout 5m0s→30s"},
		{"line_timeout", TCP, func(l *Listener) { l.LineTimeout = 0 }, "line_timeout 1m0s→0s"},
		{"allow", UDP, func(l *Listener) { l.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} },
			"allow any→[10.0.0.0/8]"},
		{"admin_allow", TCP, func(l *Listener) { l.AdminAllow = DefaultAdminAllow[:1] },
			"admin_allow [127.0.0.0/8,::1/128]→[127.0.0.0/8]"},
		{"token_credential", TCP, func(l *Listener) { l.TokenCredential = "t" }, `token_credential ""→t`},
		{"token_file", TCP, func(l *Listener) { l.TokenFile = "/etc/t" }, `token_file ""→/etc/t`},
		{"commands", UDP, func(l *Listener) { l.Commands = false }, "commands true→false"},
		{"rate_lines", TCP, func(l *Listener) { l.RateLines = 10 }, "rate_lines 0→10"},
		{"rate_datagrams", UDP, func(l *Listener) { l.RateDatagrams = 10 }, "rate_datagrams 0→10"},
		{"rate_burst", TCP, func(l *Listener) { l.RateBurst = 5 }, "rate_burst 0→5"},
		{"udp_deny_source_ports", UDP, func(l *Listener) { l.UDPDenySources = []uint16{} }, "udp_deny_source_ports [7,13,17,19,37]→[]"},
		{"max_udp_peers", UDP, func(l *Listener) { l.MaxUDPPeers = 10 }, "max_udp_peers 65536→10"},
		{"agent_listeners", TCP, func(l *Listener) { l.AgentListeners = []string{"u"} }, "agent_listeners []→[u]"},
		{"agent_weight", TCP, func(l *Listener) { l.AgentWeight = 50 }, "agent_weight 0→50"},
		{"proxy_protocol", TCP, func(l *Listener) { l.ProxyProtocol = ProxyRequired }, "proxy_protocol off→required"},
		{"proxy_allow", TCP, func(l *Listener) { l.ProxyAllow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} },
			"proxy_allow none→[10.0.0.0/8]"},
		{"proxy_timeout", TCP, func(l *Listener) { l.ProxyTimeout = time.Second }, "proxy_timeout 5s→1s"},
		{"token", TCP, func(l *Listener) { l.Token = "s3cret" }, "token changed"},
		{"stamp_auth", UDP, func(l *Listener) { l.StampAuth = StampAuthRequired }, "stamp_auth off→required"},
		{"stamp_key_credential", UDP, func(l *Listener) { l.StampKeyCredential = "k" }, `stamp_key_credential ""→k`},
		{"stamp_key_file", UDP, func(l *Listener) { l.StampKeyFile = "/etc/k" }, `stamp_key_file ""→/etc/k`},
		{"stamp_stateful", UDP, func(l *Listener) { l.StampStateful = true }, "stamp_stateful false→true"},
		{"stamp_timestamp", UDP, func(l *Listener) { l.StampTimestamp = StampPTP }, "stamp_timestamp ntp→ptp"},
		{"stamp_dscp_allow", UDP, func(l *Listener) { l.StampDSCPAllow = []uint16{46} }, "stamp_dscp_allow all→[46]"},
		{"stamp_key", UDP, func(l *Listener) { l.StampKey = "s3cret" }, "stamp_key changed"},
		{"tls_cert_file", TCP, func(l *Listener) { l.TLSCertFile = "/c" }, `tls_cert_file ""→/c`},
		{"tls_key_file", TCP, func(l *Listener) { l.TLSKeyFile = "/k" }, `tls_key_file ""→/k`},
		{"tls_cert_credential", TCP, func(l *Listener) { l.TLSCertCredential = "c" }, `tls_cert_credential ""→c`},
		{"tls_key_credential", TCP, func(l *Listener) { l.TLSKeyCredential = "k" }, `tls_key_credential ""→k`},
		{"tls_client_ca_file", TCP, func(l *Listener) { l.TLSClientCAFile = "/ca" }, `tls_client_ca_file ""→/ca`},
		{"tls_client_ca_credential", TCP, func(l *Listener) { l.TLSClientCACredential = "ca" }, `tls_client_ca_credential ""→ca`},
		{"tls_client_auth", TCP, func(l *Listener) { l.TLSClientAuth = TLSAuthRequire }, "tls_client_auth none→require"},
		{"tls_min_version", TCP, func(l *Listener) { l.TLSMinVersion = "1.3" }, "tls_min_version 1.2→1.3"},
		{"tls_handshake_timeout", TCP, func(l *Listener) { l.TLSHandshakeTimeout = time.Second }, "tls_handshake_timeout 10s→1s"},
		{"tls_files", TCP, func(l *Listener) { l.TLS = &TLSMaterial{Digest: [32]byte{1}} }, "tls files changed"},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		for _, k := range strings.Fields(tc.key) {
			covered[k] = true
		}
		old, new := baseListener(tc.proto), baseListener(tc.proto)
		tc.change(&new)
		var got []string
		for _, c := range ListenerDiff(&old, &new) {
			got = append(got, c.String())
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: %q, want [%q]", tc.key, got, tc.want)
		}
		if keys := ListenerChanged(&old, &new); strings.Join(keys, " ") != tc.key {
			t.Errorf("%s: ListenerChanged %q", tc.key, keys)
		}
		if strings.Contains(strings.Join(got, " "), "s3cret") {
			t.Errorf("%s: the token's content is shown: %q", tc.key, got)
		}
	}
	for _, k := range listenerKeys {
		if !covered[k.name] {
			t.Errorf("key %q has no case here", k.name)
		}
	}
}

// Settings gives every key of the listener's protocol, in JSON-ready values, and no token.
func TestSettings(t *testing.T) {
	l := baseListener(TCP)
	l.Token = "s3cret"
	got := map[string]any{}
	for _, s := range Settings(&l) {
		got[s.Key] = s.Value
	}
	for _, k := range listenerKeys {
		if _, ok := got[k.name]; ok != (k.only == "" || k.only == TCP) {
			t.Errorf("key %q: present %v", k.name, ok)
		}
	}
	if got["idle_timeout"] != "5m0s" || got["allow"] != nil || strings.Join(got["admin_allow"].([]string), ",") != "127.0.0.0/8,::1/128" {
		t.Errorf("values: %v", got)
	}
	for k, v := range got {
		if v == "s3cret" {
			t.Errorf("token shown as %s", k)
		}
	}
}

// ReadDaemonPaths finds pid_file and control_socket in a file that is TOML but otherwise invalid, or whose
// syntax error comes after [daemon], and gives a positioned error for one that is broken before.
func TestReadDaemonPaths(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "a.toml")
	writeDaemonPathsFile(t, good, "[daemon]\npid_file = \"/run/e.pid\"\ncontrol_socket = \"/run/e.sock\"\nbogus = 1\n[[listener]]\nmax_line = 0\n")
	p, err := ReadDaemonPaths(good)
	if err != nil || p.PIDFile != "/run/e.pid" || p.ControlSocket != "/run/e.sock" {
		t.Errorf("ReadDaemonPaths: %+v %v", p, err)
	}
	later := filepath.Join(dir, "later.toml")
	writeDaemonPathsFile(t, later, "[daemon]\ncontrol_socket = \"/run/e.sock\"\n\n[[listener]]\nname = \"x\"\nmax_line = = 3\n")
	if p, err := ReadDaemonPaths(later); err != nil || p.ControlSocket != "/run/e.sock" {
		t.Errorf("syntax error after [daemon]: %+v %v", p, err)
	}
	bad := filepath.Join(dir, "b.toml")
	writeDaemonPathsFile(t, bad, "[daemon]\npid_file = \n")
	if _, err := ReadDaemonPaths(bad); err == nil || !strings.HasPrefix(err.Error(), bad+":2:") {
		t.Errorf("not TOML: %v", err)
	}
}

func writeDaemonPathsFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
