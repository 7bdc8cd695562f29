package config

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tcp and udp start a minimal valid listener table.
const (
	tcp = "[[listener]]\nname = \"t\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:7007\"\n"
	udp = "[[listener]]\nname = \"u\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:7007\"\n"
)

func TestDecodeDefaults(t *testing.T) {
	cfg, err := Decode("e.toml", []byte(tcp+udp))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Daemon, DefaultDaemon()) {
		t.Errorf("daemon = %+v", cfg.Daemon)
	}
	wantTCP := Listener{
		Name: "t", Protocol: TCP, Address: "127.0.0.1:7007", Mode: ModeLine,
		MaxConns: 1024, Backlog: 128, MaxLine: 4096, MaxOutput: 65536, IdleTimeout: 5 * time.Minute, LineTimeout: time.Minute,
		AdminAllow: DefaultAdminAllow, Commands: true, ProxyProtocol: ProxyOff, ProxyTimeout: DefaultProxyTimeout,
		TLSClientAuth: TLSAuthNone, TLSMinVersion: "1.2", TLSHandshakeTimeout: DefaultTLSHandshakeTimeout,
	}
	wantUDP := Listener{
		Name: "u", Protocol: UDP, Address: "127.0.0.1:7007", MaxDatagram: 65535,
		UDPDenySources: DefaultUDPDenySources, MaxUDPPeers: 65536, Commands: true,
		Mode: ModeEcho, StampAuth: StampAuthOff, StampTimestamp: StampNTP, StampDSCPAllow: DefaultStampDSCPAllow,
	}
	for i, want := range []Listener{wantTCP, wantUDP} {
		if got := cfg.Listeners[i]; !reflect.DeepEqual(got, want) {
			t.Errorf("listener %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	if cfg.Path != "e.toml" || cfg.Hash == ([32]byte{}) {
		t.Errorf("path %q hash %x", cfg.Path, cfg.Hash)
	}
}

func TestDecodeValues(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		check     func(c *Config) bool
	}{
		{"no daemon table", tcp, func(c *Config) bool { return len(c.Listeners) == 1 && reflect.DeepEqual(c.Daemon, DefaultDaemon()) }},
		{"daemon", "[daemon]\nlog_level = \"debug\"\nstats_interval = \"0s\"\ndrain_timeout = \"1h30m\"\npid_file = \"/run/e.pid\"\n" + tcp,
			func(c *Config) bool {
				d := c.Daemon
				return d.LogLevel == "debug" && d.StatsInterval == 0 && d.DrainTimeout == 90*time.Minute && d.PIDFile == "/run/e.pid"
			}},
		{"empty host is loopback", strings.Replace(tcp, "127.0.0.1:7007", ":7007", 1),
			func(c *Config) bool { return c.Listeners[0].Address == "127.0.0.1:7007" }},
		{"ipv6 normalised", strings.Replace(tcp, "127.0.0.1:7007", "[0:0::1]:7007", 1),
			func(c *Config) bool { return c.Listeners[0].Address == "[::1]:7007" }},
		{"dual-stack wildcard kept", strings.Replace(tcp, "127.0.0.1:7007", "[::]:7007", 1),
			func(c *Config) bool { return c.Listeners[0].Address == "[::]:7007" }},
		{"address omitted", "[[listener]]\nname = \"s\"\nprotocol = \"tcp\"\n",
			func(c *Config) bool { return c.Listeners[0].Address == "" }},
		{"port 0 twice", strings.Replace(tcp, ":7007", ":0", 1) + strings.Replace(strings.Replace(tcp, ":7007", ":0", 1), `"t"`, `"t2"`, 1),
			func(c *Config) bool { return len(c.Listeners) == 2 }},
		{"bare address is one host", tcp + "allow = [\"10.0.0.1\", \"::1\", \"10.0.0.0/8\"]\n",
			func(c *Config) bool {
				return reflect.DeepEqual(c.Listeners[0].Allow, []netip.Prefix{
					netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8")})
			}},
		{"admin_allow empty means nobody", tcp + "admin_allow = []\n",
			func(c *Config) bool { a := c.Listeners[0].AdminAllow; return a != nil && len(a) == 0 }},
		{"deny ports empty means none", udp + "udp_deny_source_ports = []\n",
			func(c *Config) bool { p := c.Listeners[0].UDPDenySources; return p != nil && len(p) == 0 }},
		{"deny ports sorted", udp + "udp_deny_source_ports = [53, 7, 53]\n",
			func(c *Config) bool { return reflect.DeepEqual(c.Listeners[0].UDPDenySources, []uint16{7, 53}) }},
		{"max_output grows with max_line", tcp + "max_line = 1048576\n",
			func(c *Config) bool { return c.Listeners[0].MaxOutput == 1048577 }},
		{"raw mode small output", tcp + "mode = \"raw\"\nmax_output = 16\n",
			func(c *Config) bool { return c.Listeners[0].Mode == ModeRaw && c.Listeners[0].MaxOutput == 16 }},
		{"commands off", udp + "commands = false\n", func(c *Config) bool { return !c.Listeners[0].Commands }},
		{"tcp and udp on one port", tcp + udp, func(c *Config) bool { return len(c.Listeners) == 2 }},
		{"inline listeners", "listener = [{name = \"a\", protocol = \"udp\"}]\n",
			func(c *Config) bool {
				return c.Listeners[0].Name == "a" && c.Listeners[0].MaxUDPPeers == DefaultMaxUDPPeers
			}},
		{"inline listeners of both protocols", "listener = [{name = \"a\", protocol = \"tcp\"}, {name = \"b\", protocol = \"udp\", max_datagram = 5}]\n",
			func(c *Config) bool { return c.Listeners[1].MaxDatagram == 5 && c.Listeners[0].MaxDatagram == 0 }},
		{"dotted daemon key", "daemon.log_level = \"warn\"\n" + tcp, func(c *Config) bool { return c.Daemon.LogLevel == "warn" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Decode("v.toml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(cfg) {
				t.Errorf("unexpected result: %+v", cfg)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"syntax", "[daemon]\n  x = = 1\n", "c.toml:2:7: expected value but found '=' instead"},
		{"duplicate key", tcp + "name = \"x\"\n", "c.toml:5:1: Key 'listener.name' has already been defined."},
		{"unknown top key", "name = \"x\"\n" + tcp, `c.toml:1:1: unknown key "name"`},
		{"unknown table", "[deamon]\n" + tcp, `c.toml:1:1: unknown key "deamon" (did you mean "daemon"?)`},
		{"table case", "[Daemon]\n" + tcp, `c.toml:1:1: unknown key "Daemon" (keys are lower-case: "daemon")`},
		{"unknown daemon key", "[daemon]\n\nlog = \"info\"\n" + tcp, `c.toml:3:1: unknown key "log"`},
		{"unknown listener key", tcp + "  max_conn = 10\n", `c.toml:5:3: listener "t": unknown key "max_conn" (did you mean "max_conns"?)`},
		{"case trap", tcp + "PROTOCOL = \"udp\"\n", `c.toml:5:1: listener "t": unknown key "PROTOCOL" (keys are lower-case: "protocol")`},
		{"nested key", tcp + "allow.x = 1\n", `c.toml:5:1: listener "t": unknown key "allow.x" (did you mean "allow"?)`},
		{"sub-table", tcp + "[listener.extra]\n", `c.toml:5:1: listener "t": unknown key "extra"`},
		{"daemon sub-table", "[daemon.x]\n" + tcp, `c.toml:1:1: unknown key "x"`},
		{"listener not array", "[listener]\nname = \"a\"\n", "c.toml:1:1: listener must be an array of tables ([[listener]])"},
		{"daemon not table", "daemon = 1\n", "c.toml:1:1: daemon must be a table ([daemon])"},
		{"listener element", "listener = [1]\n", "c.toml:1:1: each listener must be a table"},
		{"bare duration", tcp + "idle_timeout = 5\n", `c.toml:5:1: listener "t": idle_timeout: missing unit in duration "5" (write e.g. "5s")`},
		{"zero duration", "[daemon]\nstats_interval = 0\n" + tcp, `c.toml:2:1: stats_interval: missing unit in duration "0" (write e.g. "0s")`},
		{"bad duration", "[daemon]\nshutdown_grace = \"5 parsecs\"\n" + tcp, `c.toml:2:1: shutdown_grace: bad duration "5 parsecs" (write e.g. "30s", "5m", "1h30m")`},
		{"negative duration", tcp + "idle_timeout = \"-1s\"\n", `c.toml:5:1: listener "t": idle_timeout: duration "-1s" must not be negative`},
		{"log level", "[daemon]\nlog_level = \"loud\"\n" + tcp, `c.toml:2:1: log_level: unknown log level "loud" (want debug, info, warn or error)`},
		{"protocol enum", "[[listener]]\nname = \"p\"\nprotocol = \"sctp\"\n", `c.toml:3:1: listener "p": protocol: unknown protocol "sctp" (want "tcp" or "udp")`},
		{"mode enum", tcp + "mode = \"fast\"\n", `c.toml:5:1: listener "t": mode: unknown mode "fast" (want "line", "raw", "agent", "echo" or "stamp")`},
		{"int type", tcp + "max_line = \"big\"\n", `c.toml:5:1: listener "t": max_line must be an integer, not a TOML string`},
		{"float type", tcp + "max_line = 1.5\n", `c.toml:5:1: listener "t": max_line must be an integer, not a TOML float`},
		{"bool type", tcp + "commands = \"yes\"\n", `c.toml:5:1: listener "t": commands must be true or false, not a TOML string`},
		{"array type", tcp + "allow = \"10.0.0.0/8\"\n", `c.toml:5:1: listener "t": allow must be an array of CIDR strings, not a TOML string`},
		{"enum type", tcp + "mode = 1\n", `c.toml:5:1: listener "t": mode must be "line", "raw", "agent", "echo" or "stamp", not a TOML integer`},
		{"daemon enum type", "[daemon]\nlog_level = true\n" + tcp, `c.toml:2:1: log_level must be debug, info, warn or error, not a TOML boolean`},
		{"duration type", tcp + "idle_timeout = 1.5\n", `c.toml:5:1: listener "t": idle_timeout must be a duration string like "5m", not a TOML float`},
		{"nested array of cidrs", tcp + "allow = [[\"10.0.0.0/8\"]]\n", `c.toml:5:1: listener "t": allow must be an array of CIDR strings, not a TOML array`},
		{"bad daemon value hides only its own checks", "[daemon]\nlog_level = 1\ncontrol_socket = \"run/e.sock\"\n" + tcp,
			"c.toml:2:1: log_level must be debug, info, warn or error, not a TOML integer\n" +
				`c.toml:3:1: control_socket "run/e.sock" must be an absolute path`},
		{"bad cidr", tcp + "allow = [\"10.0.0.0/33\"]\n", `c.toml:5:1: listener "t": allow: bad CIDR "10.0.0.0/33" (want e.g. "10.0.0.0/8" or "::1/128")`},
		{"host bits", tcp + "admin_allow = [\"10.1.2.3/8\"]\n", `c.toml:5:1: listener "t": admin_allow: CIDR "10.1.2.3/8" has host bits set (did you mean "10.0.0.0/8"?)`},
		{"bad port in list", udp + "udp_deny_source_ports = [7, 70000]\n", `c.toml:5:1: listener "u": udp_deny_source_ports: 70000 is not a port number (0..65535)`},
		{"hostname", strings.Replace(tcp, "127.0.0.1:7007", "localhost:7007", 1), `c.toml:4:1: listener "t": address: "localhost:7007": host must be an IP address, not a name (e.g. "127.0.0.1:7007")`},
		{"no port", strings.Replace(tcp, "127.0.0.1:7007", "127.0.0.1", 1), `c.toml:4:1: listener "t": address: "127.0.0.1" has no port (want "host:port", e.g. "127.0.0.1:7007")`},
		{"bad port", strings.Replace(tcp, "127.0.0.1:7007", "127.0.0.1:70000", 1), `c.toml:4:1: listener "t": address: "127.0.0.1:70000": bad port "70000" (want 0..65535)`},
		{"ipv6 without brackets", strings.Replace(tcp, "127.0.0.1:7007", "::1:7007", 1), `c.toml:4:1: listener "t": address: "::1:7007": write an IPv6 host in brackets, e.g. "[::1]:7007"`},
		{"second listener placed", tcp + "\n" + strings.Replace(udp, "\"u\"", "\"u\"\nbacklog = 1", 1),
			`c.toml:8:1: listener "u": backlog applies only to tcp listeners (this one is udp)`},
		{"value errors in two listeners", tcp + "idle_timeout = \"x\"\n" + strings.NewReplacer(`"t"`, `"t2"`, ":7007", ":7008").Replace(tcp) + "idle_timeout = \"y\"\n",
			`c.toml:5:1: listener "t": idle_timeout: bad duration "x" (write e.g. "30s", "5m", "1h30m")` + "\n" +
				`c.toml:10:1: listener "t2": idle_timeout: bad duration "y" (write e.g. "30s", "5m", "1h30m")`},
		{"every error of one listener, in file order", tcp + "max_line = \"big\"\nfoo = 1\nmax_conns = 0\nmode = \"fast\"\nallow = \"x\"\n",
			`c.toml:5:1: listener "t": max_line must be an integer, not a TOML string` + "\n" +
				`c.toml:6:1: listener "t": unknown key "foo"` + "\n" +
				`c.toml:7:1: listener "t": max_conns must be between 1 and 1000000` + "\n" +
				`c.toml:8:1: listener "t": mode: unknown mode "fast" (want "line", "raw", "agent", "echo" or "stamp")` + "\n" +
				`c.toml:9:1: listener "t": allow must be an array of CIDR strings, not a TOML string`},
		{"bad protocol hides the protocol's checks", "[[listener]]\nname = \"p\"\nprotocol = \"sctp\"\nmax_line = 0\n",
			`c.toml:3:1: listener "p": protocol: unknown protocol "sctp" (want "tcp" or "udp")`},
		{"bad name is not also missing", "[[listener]]\nname = 5\nprotocol = \"udp\"\nmax_datagram = 0\n",
			"c.toml:2:1: name must be a string, not a TOML integer\nc.toml:4:1: max_datagram must be between 1 and 65535"},
		{"empty file", "", "c.toml: " + msgNoListeners},
		{"only comments", "# echogate.toml\n\n", "c.toml: " + msgNoListeners},
		{"only daemon", "[daemon]\nlog_level = \"info\"\n", "c.toml: " + msgNoListeners},
		{"no listeners, and a daemon error", "[daemon]\nlog_level = \"loud\"\n",
			`c.toml:2:1: log_level: unknown log level "loud" (want debug, info, warn or error)` + "\nc.toml: " + msgNoListeners},
		{"inline empty listener list", "listener = []\n", "c.toml: " + msgNoListeners},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("c.toml", []byte(tc.src))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %T %v, want *Error", err, err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "e.toml", Line: 12, Col: 3, Listener: "diag", Msg: "m"}, `e.toml:12:3: listener "diag": m`},
		{Error{File: "e.toml", Line: 12, Msg: "m"}, "e.toml:12: m"},
		{Error{File: "e.toml", Msg: "m"}, "e.toml: m"},
		{Error{Listener: "x", Msg: "m"}, `listener "x": m`},
		{Error{Msg: "m"}, "m"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
