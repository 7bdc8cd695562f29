package config

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestValidateErrors(t *testing.T) {
	named := func(src, name string) string { return strings.Replace(src, `"t"`, `"`+name+`"`, 1) }
	for _, tc := range []struct{ name, src, want string }{
		{"name missing", "[[listener]]\nprotocol = \"tcp\"\n", "v.toml:1:1: name is required"},
		{"name pattern", named(tcp, "Diag!"), `v.toml:2:1: listener "Diag!": name "Diag!" is not valid: use 1 to 64 characters from a-z 0-9 . _ -`},
		{"name too long", named(tcp, strings.Repeat("a", 65)), `v.toml:2:1: listener "` + strings.Repeat("a", 65) + `": name "` + strings.Repeat("a", 65) + `" is not valid: use 1 to 64 characters from a-z 0-9 . _ -`},
		{"protocol missing", "\n  [[listener]]\nname = \"p\"\n", `v.toml:2:3: listener "p": protocol is required ("tcp" or "udp")`},
		{"duplicate name", tcp + strings.Replace(udp, `"u"`, `"t"`, 1), `v.toml:6:1: listener "t": name "t" is already used by another listener (line 1)`},
		{"duplicate address", tcp + named(tcp, "t2"), `v.toml:8:1: listener "t2": address 127.0.0.1:7007 overlaps listener "t" (tcp 127.0.0.1:7007)`},
		{"same address written differently", tcp + strings.Replace(named(tcp, "t2"), "127.0.0.1:7007", ":7007", 1), `v.toml:8:1: listener "t2": address 127.0.0.1:7007 overlaps listener "t" (tcp 127.0.0.1:7007)`},
		{"wildcard overlap", tcp + strings.Replace(named(tcp, "w"), "127.0.0.1", "[::]", 1), `v.toml:8:1: listener "w": address [::]:7007 overlaps listener "t" (tcp 127.0.0.1:7007): "[::]" is dual-stack and takes the port on every IPv4 and IPv6 address`},
		{"v4-mapped overlap", tcp + strings.Replace(named(tcp, "m"), "127.0.0.1", "[::ffff:127.0.0.1]", 1), `v.toml:8:1: listener "m": address [::ffff:127.0.0.1]:7007 overlaps listener "t" (tcp 127.0.0.1:7007): an IPv4-mapped address is bound as the IPv4 address it maps`},
		{"v4-mapped wildcard overlap", strings.Replace(tcp, "127.0.0.1", "[::ffff:0.0.0.0]", 1) + named(tcp, "t2"), `v.toml:8:1: listener "t2": address 127.0.0.1:7007 overlaps listener "t" (tcp [::ffff:0.0.0.0]:7007): an IPv4-mapped address is bound as the IPv4 address it maps; 0.0.0.0 takes the port on every IPv4 address`},
		{"errors in three listeners", tcp + "max_line = 0\n" + named(udp, "u") + "max_datagram = 0\n" + named(tcp, "t3") + "backlog = 0\n",
			`v.toml:5:1: listener "t": max_line must be between 1 and 1048576` + "\n" +
				`v.toml:10:1: listener "u": max_datagram must be between 1 and 65535` + "\n" +
				`v.toml:14:1: listener "t3": address 127.0.0.1:7007 overlaps listener "t" (tcp 127.0.0.1:7007)` + "\n" +
				`v.toml:15:1: listener "t3": backlog must be between 1 and 65535`},
		{"mode on udp", udp + "mode = \"line\"\n", `v.toml:5:1: listener "u": mode "line" is a mode of tcp listeners; a udp listener's is "echo" or "stamp"`},
		{"max_line on udp even zero", udp + "max_line = 0\n", `v.toml:5:1: listener "u": max_line applies only to tcp listeners (this one is udp)`},
		{"max_datagram on tcp", tcp + "max_datagram = 512\n", `v.toml:5:1: listener "t": max_datagram applies only to udp listeners (this one is tcp)`},
		{"token on udp", udp + "token_file = \"/x\"\n", `v.toml:5:1: listener "u": token_file applies only to tcp listeners (this one is udp)`},
		{"max_line huge", tcp + "max_line = 9223372036854775807\n", `v.toml:5:1: listener "t": max_line must be between 1 and 1048576`},
		{"max_output below line", tcp + "max_line = 100\nmax_output = 100\n", `v.toml:6:1: listener "t": max_output must be between 101 (max_line+1) and 67108864`},
		{"max_output too big", tcp + "max_output = 67108865\n", `v.toml:5:1: listener "t": max_output must be between 4097 (max_line+1) and 67108864`},
		{"max_output raw", tcp + "mode = \"raw\"\nmax_output = 0\n", `v.toml:6:1: listener "t": max_output must be between 1 and 67108864`},
		{"allow empty", udp + "allow = []\n", `v.toml:5:1: listener "u": allow = [] would refuse every client; leave allow out to admit everyone`},
		{"both tokens", tcp + "token_credential = \"a\"\ntoken_file = \"/a\"\n", `v.toml:6:1: listener "t": token_credential and token_file are mutually exclusive; use one`},
		{"credential slash", tcp + "token_credential = \"../a\"\n", `v.toml:5:1: listener "t": token_credential "../a" must be a file name in $CREDENTIALS_DIRECTORY (no '/', not "." or "..")`},
		{"credential dotdot", tcp + "token_credential = \"..\"\n", `v.toml:5:1: listener "t": token_credential ".." must be a file name in $CREDENTIALS_DIRECTORY (no '/', not "." or "..")`},
		{"credential empty", tcp + "token_credential = \"\"\n", `v.toml:5:1: listener "t": token_credential "" must be a file name in $CREDENTIALS_DIRECTORY (no '/', not "." or "..")`},
		{"token file relative", tcp + "token_file = \"tok\"\n", `v.toml:5:1: listener "t": token_file "tok" must be an absolute path`},
		{"proxy without proxy_allow", tcp + "proxy_protocol = \"optional\"\n", `v.toml:5:1: listener "t": proxy_protocol = "optional" needs proxy_allow, the balancers trusted to send a header`},
		{"proxy_allow empty", tcp + "proxy_protocol = \"required\"\nproxy_allow = []\n", `v.toml:6:1: listener "t": proxy_allow = [] trusts no balancer; list the balancers' CIDRs, or set proxy_protocol = "off"`},
		{"proxy_protocol value", tcp + "proxy_protocol = \"v2\"\n", `v.toml:5:1: listener "t": proxy_protocol: unknown proxy protocol "v2" (want "off", "optional" or "required")`},
		{"proxy_timeout zero", tcp + "proxy_protocol = \"required\"\nproxy_allow = [\"10.0.0.0/8\"]\nproxy_timeout = \"0s\"\n", `v.toml:7:1: listener "t": proxy_timeout must be at least 1ms`},
		{"proxy on udp", udp + "proxy_protocol = \"off\"\n", `v.toml:5:1: listener "u": proxy_protocol applies only to tcp listeners (this one is udp)`},
		{"udp_peer_window", "[daemon]\nudp_peer_window = \"0s\"\n" + tcp, "v.toml:2:1: udp_peer_window must be at least 1s (peers are aged once a second)"},
		{"udp_peer_window short", "[daemon]\nudp_peer_window = \"500ms\"\n" + tcp, "v.toml:2:1: udp_peer_window must be at least 1s (peers are aged once a second)"},
		{"stats_interval short", "[daemon]\nstats_interval = \"1ms\"\n" + tcp, `v.toml:2:1: stats_interval must be "0s" (off) or at least 1s`},
		{"daemon header placed", "\n[daemon]\nlog_level = \"info\"\n" + tcp + named(tcp, "t"), `v.toml:9:1: listener "t": name "t" is already used by another listener (line 4)` +
			"\n" + `v.toml:11:1: listener "t": address 127.0.0.1:7007 overlaps listener "t" (tcp 127.0.0.1:7007)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("v.toml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error, want %s", tc.want)
			}
			mustErrors(t, err)
			if got := err.Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestValidateRanges checks both ends of every integer key's range. The ranges are written out here too, so
// that a change of the schema shows; an integer key added without a range here fails.
func TestValidateRanges(t *testing.T) {
	ranges := map[string][2]int{
		"max_conns": {1, 1000000}, "max_conns_per_ip": {0, 1000000}, "backlog": {1, 65535},
		"max_line": {1, 1048576}, "max_datagram": {1, 65535}, "max_output": {4097, 67108864},
		"rate_lines": {0, 1000000000}, "rate_datagrams": {0, 1000000000}, "rate_burst": {0, 1000000000},
		"max_udp_peers": {1, 10000000}, "agent_weight": {0, 100},
	}
	for _, k := range listenerKeys {
		if _, isInt := k.field(&Listener{}).(*int); !isInt {
			continue
		}
		r, ok := ranges[k.name]
		if !ok {
			t.Errorf("integer key %q has no range in this test", k.name)
			continue
		}
		src, name := tcp, "t"
		if k.only == UDP {
			src, name = udp, "u"
		}
		bounds := fmt.Sprintf("between %d and %d", r[0], r[1])
		if k.name == "max_output" {
			bounds = fmt.Sprintf("between %d (max_line+1) and %d", r[0], r[1])
		}
		want := fmt.Sprintf(`v.toml:5:1: listener %q: %s must be %s`, name, k.name, bounds)
		for _, n := range []int{r[0], r[1], r[0] - 1, r[1] + 1} {
			_, err := Decode("v.toml", []byte(fmt.Sprintf("%s%s = %d\n", src, k.name, n)))
			switch inside := n >= r[0] && n <= r[1]; {
			case inside && err != nil:
				t.Errorf("%s = %d: %v, want no error", k.name, n, err)
			case !inside && errString(err) != want:
				t.Errorf("%s = %d: %v, want %s", k.name, n, err, want)
			}
		}
	}
}

// TestValidateByHand checks Validate on Configs not decoded from text: no positions,
// and keys of the other protocol are found by their non-zero values.
func TestValidateByHand(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(l *Listener)
		want   string
	}{
		{"ok", func(l *Listener) {}, ""},
		{"udp field on tcp", func(l *Listener) { l.MaxUDPPeers = 5 }, `listener "tcp-7": max_udp_peers applies only to udp listeners (this one is tcp)`},
		{"bad mode", func(l *Listener) { l.Mode = "fast" }, `listener "tcp-7": unknown mode "fast" (want "line", "raw", "agent", "echo" or "stamp")`},
		{"bad protocol", func(l *Listener) { l.Protocol = "sctp" }, `listener "tcp-7": unknown protocol "sctp" (want "tcp" or "udp")`},
		{"bad address", func(l *Listener) { l.Address = "x" }, `listener "tcp-7": address "x" has no port (want "host:port", e.g. "127.0.0.1:7007")`},
		{"invalid prefix", func(l *Listener) { l.Allow = []netip.Prefix{{}} }, `listener "tcp-7": allow: bad CIDR "invalid Prefix"`},
		{"unmasked prefix", func(l *Listener) { l.AdminAllow = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/8")} }, `listener "tcp-7": admin_allow: bad CIDR "10.1.0.0/8"`},
		{"negative idle", func(l *Listener) { l.IdleTimeout = -1 }, `listener "tcp-7": idle_timeout must not be negative`},
		{"two errors", func(l *Listener) { l.MaxConns, l.Backlog = 0, 0 },
			"listener \"tcp-7\": max_conns must be between 1 and 1000000\nlistener \"tcp-7\": backlog must be between 1 and 65535"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := FromListenFlags([]string{"tcp://:7"})
			if err != nil {
				t.Fatal(err)
			}
			tc.change(&cfg.Listeners[0])
			err = cfg.Validate()
			if got := errString(err); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestValidateOverlapsByHand checks overlaps in a Config not decoded from text, with addresses as written.
func TestValidateOverlapsByHand(t *testing.T) {
	cfg := &Config{Daemon: DefaultDaemon(), Listeners: []Listener{
		DefaultListener("a", TCP, "127.0.0.1:7"),
		DefaultListener("b", UDP, "127.0.0.1:7"),
		DefaultListener("c", TCP, "[::ffff:127.0.0.1]:7"),
		DefaultListener("d", UDP, ":7"),
	}}
	want := `listener "c": address [::ffff:127.0.0.1]:7 overlaps listener "a" (tcp 127.0.0.1:7): an IPv4-mapped address is bound as the IPv4 address it maps` +
		"\n" + `listener "d": address :7 overlaps listener "b" (udp 127.0.0.1:7)`
	if got := errString(cfg.Validate()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestValidateNoListeners checks that a Config with no listener is refused, whatever its origin.
func TestValidateNoListeners(t *testing.T) {
	cfg := &Config{Path: "x.toml", Daemon: DefaultDaemon()}
	if got, want := errString(cfg.Validate()), "x.toml: "+msgNoListeners; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestValidateDaemonByHand(t *testing.T) {
	cfg := &Config{Path: "x.toml", Daemon: DefaultDaemon(), Listeners: []Listener{DefaultListener("a", TCP, "127.0.0.1:7")}}
	cfg.Daemon.DrainTimeout = -1
	if got, want := errString(cfg.Validate()), "x.toml: drain_timeout must not be negative"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	cfg.Daemon = DefaultDaemon()
	cfg.Daemon.LogLevel = "INFO"
	if got, want := errString(cfg.Validate()), `x.toml: unknown log level "INFO" (want debug, info, warn or error)`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
