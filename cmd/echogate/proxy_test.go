package main

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
	"echogate/listeners"
)

// proxyConfig serves PROXY listeners trusting balancers on 127.0.0.2 (and ::1), whose clients may be in
// 192.0.2.0/24 or 2001:db8::/32, and a plain listener to read /stats json from.
const proxyConfig = `
[[listener]]
name = "stats"
protocol = "tcp"
address = "127.0.0.1:0"

[[listener]]
name = "req"
protocol = "tcp"
address = "127.0.0.1:0"
proxy_protocol = "required"
proxy_allow = ["127.0.0.2/32"]
proxy_timeout = "300ms"
allow = ["192.0.2.0/24", "2001:db8::/32"]
max_conns_per_ip = 1

[[listener]]
name = "opt"
protocol = "tcp"
address = "127.0.0.1:0"
proxy_protocol = "optional"
proxy_allow = ["127.0.0.2/32"]
proxy_timeout = "300ms"
`

var (
	ppClient   = netip.MustParseAddrPort("192.0.2.1:40000")
	ppClient6  = netip.MustParseAddrPort("[2001:db8::1]:40000")
	ppFront    = netip.MustParseAddrPort("198.51.100.1:7007")
	ppFront6   = netip.MustParseAddrPort("[2001:db8::ff]:7007")
	ppStranger = netip.MustParseAddrPort("203.0.113.9:40000")
)

// balancer connects to addr from 127.0.0.2, the trusted balancer of proxyConfig.
func balancer(t *testing.T, addr string) net.Conn {
	t.Helper()
	return echotest.DialFrom(t, "127.0.0.2", addr)
}

// listenerStats reads one listener's counters.
func listenerStats(t *testing.T, d *echotest.Daemon, name string) listeners.ListenerStats {
	t.Helper()
	return echotest.Stats(t, d.Addr("stats")).Listeners[name]
}

// A header is read whole, in each form, and the client it names is the connection's peer: /whoami shows it
// as peer= and the balancer as via=, and the bytes after the header in the same write are the client's data.
func TestProxyHeaders(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, proxyConfig)
	for _, tc := range []struct {
		name, header string
		peer         netip.AddrPort
	}{
		{"v1 IPv4", echotest.ProxyV1(ppClient, ppFront), ppClient},
		{"v1 IPv6", echotest.ProxyV1(ppClient6, ppFront6), ppClient6},
		{"v2 IPv4", echotest.ProxyV2(ppClient, ppFront), ppClient},
		{"v2 IPv6", echotest.ProxyV2(ppClient6, ppFront6), ppClient6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, listener := range []string{"req", "opt"} {
				c := balancer(t, d.Addr(listener))
				echotest.RoundTrip(t, c, tc.header+"first\n", "first\n")
				_, v := askWhoami(t, c)
				if v["peer"] != tc.peer.String() || v["via"] != c.LocalAddr().String() {
					t.Errorf("%s: peer=%s via=%s, want %s and the balancer %s", listener, v["peer"], v["via"], tc.peer,
						c.LocalAddr())
				}
				w := askWhoamiJSON(t, c)
				if w.Proxy == nil || w.Proxy.Src != tc.peer.String() || w.Proxy.Command != "proxy" {
					t.Errorf("%s: /whoami json proxy %+v", listener, w.Proxy)
				}
			}
		})
	}
}

// A header split across writes, at every awkward place, is read whole, and data in its last write follows.
func TestProxySplitHeader(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, proxyConfig)
	v1, v2 := echotest.ProxyV1(ppClient, ppFront), echotest.ProxyV2(ppClient6, ppFront6)
	for _, tc := range []struct {
		parts []string
		peer  netip.AddrPort
	}{
		{[]string{v1[:1], v1[1:6], v1[6 : len(v1)-1], v1[len(v1)-1:] + "data\n"}, ppClient},
		{[]string{v2[:5], v2[5:13], v2[13:16], v2[16:30], v2[30:] + "data\n"}, ppClient6},
	} {
		c := balancer(t, d.Addr("req"))
		for _, p := range tc.parts {
			if _, err := io.WriteString(c, p); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // each part its own segment and read
		}
		echotest.ReadExactly(t, c, "data\n")
		if _, v := askWhoami(t, c); v["peer"] != tc.peer.String() {
			t.Errorf("split header: peer %s, want %s", v["peer"], tc.peer)
		}
	}
}

// The v2 TLVs a balancer sends are shown by /whoami json.
func TestProxyTLVs(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, proxyConfig)
	ssl := "\x05\x00\x00\x00\x00" + echotest.ProxyTLV(0x21, "TLSv1.3") + echotest.ProxyTLV(0x22, "client.example")
	h := echotest.ProxyV2(ppClient, ppFront, echotest.ProxyTLV(0x01, "h2"), echotest.ProxyTLV(0x02, "echo.example"),
		echotest.ProxyTLV(0x05, "req-42"), echotest.ProxyTLV(0x20, ssl), echotest.ProxyTLV(0x30, "blue"))
	c := balancer(t, d.Addr("req"))
	if _, err := io.WriteString(c, h); err != nil {
		t.Fatal(err)
	}
	p := askWhoamiJSON(t, c).Proxy
	if p == nil || p.Version != 2 || p.Family != "tcp4" || p.ALPN != "h2" || p.Authority != "echo.example" || p.UniqueID != "req-42" ||
		p.NetNS != "blue" || p.SSL == nil || p.SSL.Client != 5 || p.SSL.Version != "TLSv1.3" || p.SSL.CN != "client.example" {
		t.Errorf("proxy %+v ssl %+v", p, p.SSL)
	}
}

// A v2 LOCAL header (a balancer's health check) is served as the balancer itself and counted as a health
// check, even where allow does not admit the balancer.
func TestProxyLocalHealthCheck(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, proxyConfig)
	c := balancer(t, d.Addr("req"))
	echotest.RoundTrip(t, c, echotest.ProxyV2Local()+"ping\n", "ping\n")
	keys, v := askWhoami(t, c)
	if v["peer"] != c.LocalAddr().String() || strings.Contains(strings.Join(keys, " "), "via") {
		t.Errorf("LOCAL: %v", v)
	}
	if s := listenerStats(t, d, "req"); s.HealthChecks != 1 || s.Accepted != 1 || s.ProxyErrors != 0 {
		t.Errorf("health_checks %d accepted %d proxy_errors %d", s.HealthChecks, s.Accepted, s.ProxyErrors)
	}
}

// A malformed header, one cut short by the balancer's EOF, one too slow, and none on a "required" listener
// each close the connection and count proxy_errors, summarised in the log with reason=proxy.
func TestProxyErrors(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, proxyConfig)
	v1 := echotest.ProxyV1(ppClient, ppFront)
	for i, tc := range []struct {
		name, send string
		halfClose  bool
	}{
		{"malformed v1", "PROXY TCP4 192.0.2.01 198.51.100.1 1 2\r\nhello\n", false},
		{"malformed v2", echotest.ProxySig + "\x21\x11\x00\x03abc", false},
		{"lf without cr", strings.Replace(v1, "\r\n", "\n", 1), false},
		{"truncated", v1[:20], true},
		{"too slow", v1[:20], false},
		{"no header", "hello\n", false},
	} {
		c := balancer(t, d.Addr("req"))
		if _, err := io.WriteString(c, tc.send); err != nil {
			t.Fatal(err)
		}
		if tc.halfClose {
			_ = c.(*net.TCPConn).CloseWrite()
		}
		echotest.ExpectClosed(t, c)
		if s := listenerStats(t, d, "req"); s.ProxyErrors != uint64(i+1) || s.Accepted != 0 {
			t.Errorf("%s: proxy_errors %d accepted %d, want %d and 0", tc.name, s.ProxyErrors, s.Accepted, i+1)
		}
	}
	if _, err := d.WaitLog("reason=proxy", 5*time.Second); err != nil {
		t.Error(err)
	}
}

// A peer outside proxy_allow never has a header read: a "required" listener refuses it and counts it, an
// "optional" one echoes the header as data.
func TestProxyUntrustedPeer(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, proxyConfig)
	h := echotest.ProxyV1(ppClient, ppFront)
	c := echotest.DialTCP(t, d.Addr("req")) // from 127.0.0.1
	_, _ = io.WriteString(c, h)
	echotest.ExpectClosed(t, c)
	if s := listenerStats(t, d, "req"); s.ProxyErrors != 1 || s.Accepted != 0 {
		t.Errorf("required, untrusted: proxy_errors %d accepted %d", s.ProxyErrors, s.Accepted)
	}
	o := echotest.DialTCP(t, d.Addr("opt"))
	echotest.RoundTrip(t, o, h, h)
	if _, v := askWhoami(t, o); v["peer"] != o.LocalAddr().String() || v["via"] != "" {
		t.Errorf("optional, untrusted: %v", v)
	}
}

// On an "optional" listener a trusted balancer may send no header: its bytes are data, and a balancer that
// sends nothing within proxy_timeout is then served as itself.
func TestProxyOptionalWithoutHeader(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, proxyConfig)
	c := balancer(t, d.Addr("opt"))
	if _, err := io.WriteString(c, "PRO"); err != nil { // a prefix of "PROXY ": not known yet
		t.Fatal(err)
	}
	echotest.RoundTrip(t, c, "BLEM\n", "PROBLEM\n")
	quiet := balancer(t, d.Addr("opt"))
	time.Sleep(500 * time.Millisecond) // past proxy_timeout
	echotest.RoundTrip(t, quiet, "late\n", "late\n")
	if s := listenerStats(t, d, "opt"); s.Accepted != 2 || s.ProxyErrors != 0 {
		t.Errorf("accepted %d proxy_errors %d", s.Accepted, s.ProxyErrors)
	}
}

// allow and max_conns_per_ip judge the client the header names, not the balancer: a client in allow is
// served through a balancer that is not; one outside allow is refused; a second connection from one client
// is over max_conns_per_ip while another client's is not.
func TestProxyAdmission(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, proxyConfig)
	first := balancer(t, d.Addr("req"))
	echotest.RoundTrip(t, first, echotest.ProxyV1(ppClient, ppFront)+"in\n", "in\n")
	other := balancer(t, d.Addr("req"))
	echotest.RoundTrip(t, other, echotest.ProxyV2(netip.MustParseAddrPort("192.0.2.2:1"), ppFront)+"in\n", "in\n")
	again := balancer(t, d.Addr("req"))
	_, _ = io.WriteString(again, echotest.ProxyV1(netip.AddrPortFrom(ppClient.Addr(), 40001), ppFront))
	if got := echotest.ReadToEOF(t, again); got != "server busy\n" {
		t.Errorf("second connection of one client: %q", got)
	}
	out := balancer(t, d.Addr("req"))
	_, _ = io.WriteString(out, echotest.ProxyV1(ppStranger, ppFront))
	echotest.ExpectClosed(t, out)
	s := listenerStats(t, d, "req")
	if s.Accepted != 2 || s.RefusedPerIP != 1 || s.RefusedCIDR != 1 || s.Open != 2 {
		t.Errorf("accepted %d refused_per_ip %d refused_cidr %d open %d", s.Accepted, s.RefusedPerIP, s.RefusedCIDR, s.Open)
	}
}

// /shutdown is refused on a connection that came through a PROXY header, whatever client it names.
func TestProxyShutdownRefused(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, proxyConfig+"admin_allow = [\"0.0.0.0/0\"]\n")
	c := balancer(t, d.Addr("opt"))
	loopback := netip.MustParseAddrPort("127.0.0.1:40000")
	echotest.RoundTrip(t, c, echotest.ProxyV1(loopback, loopback)+"/shutdown tok\n", "ERR shutdown-loopback-required\n")
	if s := listenerStats(t, d, "opt"); s.ShutdownRefused != 1 {
		t.Errorf("shutdown_refused %d", s.ShutdownRefused)
	}
}

// A reload applies the PROXY keys to new connections only: a balancer's connection that began under
// "optional" and has sent a start of "PROXY " keeps that mode when the listener turns "off" meanwhile, and
// its bytes turn out to be data; a new connection's header is then data too.
func TestProxyReload(t *testing.T) {
	t.Parallel()
	slow := strings.ReplaceAll(proxyConfig, `proxy_timeout = "300ms"`, `proxy_timeout = "30s"`) // outlasts the reload
	d := echotest.Start(t, slow)
	c := balancer(t, d.Addr("opt"))
	if _, err := io.WriteString(c, "PRO"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // read before the reload
	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, strings.Replace(slow, `proxy_protocol = "optional"`, `proxy_protocol = "off"`, 1))
	d.AwaitReload(t, mark)
	echotest.RoundTrip(t, c, "BLEM\n", "PROBLEM\n")
	h := echotest.ProxyV1(ppClient, ppFront)
	echotest.RoundTrip(t, balancer(t, d.Addr("opt")), h, h)
}
