package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"echogate/internal/echotest"
	"echogate/listeners"
)

// whoamiConfig serves a TCP and a UDP listener on IPv4 and on IPv6 loopback.
const whoamiConfig = `
[[listener]]
name = "t4"
protocol = "tcp"
address = "127.0.0.1:0"

[[listener]]
name = "t6"
protocol = "tcp"
address = "[::1]:0"

[[listener]]
name = "u4"
protocol = "udp"
address = "127.0.0.1:0"
`

// whoamiKeys are the keys of a /whoami line from a plain TCP connection, in order.
var whoamiKeys = []string{"peer", "local", "listener", "proto", "host", "syn_ttl", "syn_mss", "syn_tos", "rtt_us",
	"retrans", "pmtu"}

// parseWhoami splits a /whoami line into its keys, in order, and its values.
func parseWhoami(t *testing.T, line string) ([]string, map[string]string) {
	t.Helper()
	if !strings.HasSuffix(line, "\n") {
		t.Fatalf("/whoami %q does not end in \\n", line)
	}
	var keys []string
	values := map[string]string{}
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("/whoami field %q is not key=value in %q", f, line)
		}
		keys = append(keys, k)
		values[k] = v
	}
	return keys, values
}

// askWhoami sends /whoami on c and parses the answer.
func askWhoami(t *testing.T, c net.Conn) ([]string, map[string]string) {
	t.Helper()
	if _, err := io.WriteString(c, "/whoami\n"); err != nil {
		t.Fatal(err)
	}
	return parseWhoami(t, echotest.ReadLine(t, bufio.NewReader(c)))
}

// needIPv6 skips a test where the host has no IPv6 loopback.
func needIPv6(t *testing.T) {
	t.Helper()
	probe, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	_ = probe.Close()
}

// /whoami over IPv4 and IPv6 gives the addresses as both ends see them, the listener, the host name, and
// the kernel's fields, in the documented order.
func TestWhoamiTCP(t *testing.T) {
	t.Parallel()
	needIPv6(t)
	d := echotest.Start(t, whoamiConfig)
	host, _ := os.Hostname()
	for _, name := range []string{"t4", "t6"} {
		c := echotest.DialTCP(t, d.Addr(name))
		keys, v := askWhoami(t, c)
		if strings.Join(keys, " ") != strings.Join(whoamiKeys, " ") {
			t.Errorf("%s: keys %q, want %q", name, keys, whoamiKeys)
		}
		if v["peer"] != c.LocalAddr().String() || v["local"] != c.RemoteAddr().String() || v["listener"] != name ||
			v["proto"] != "tcp" || v["host"] != host {
			t.Errorf("%s: %v; client %s → %s, host %s", name, v, c.LocalAddr(), c.RemoteAddr(), host)
		}
		if v["syn_ttl"] != "64" || v["syn_tos"] != "0x00" || v["pmtu"] != "65536" && v["pmtu"] != "65535" {
			t.Errorf("%s: a default loopback SYN: %v", name, v)
		}
		// the kernel gives a saved SYN once: a second /whoami on the connection shows the same SYN fields
		if _, again := askWhoami(t, c); again["syn_mss"] != v["syn_mss"] || again["syn_ttl"] != v["syn_ttl"] {
			t.Errorf("%s: second /whoami %v, first %v", name, again, v)
		}
	}
}

// whoamiJSON is /whoami json as a test reads it.
type whoamiJSON struct {
	Peer       string `json:"peer"`
	Proto      string `json:"proto"`
	SynTTL     int    `json:"syn_ttl"`
	SynMSS     int    `json:"syn_mss"`
	SynOptions []struct {
		Kind  any `json:"kind"`
		Value int `json:"value"`
	} `json:"syn_options"`
	TCPInfo map[string]int `json:"tcp_info"`
	Proxy   *struct {
		Version   int    `json:"version"`
		Command   string `json:"command"`
		Family    string `json:"family"`
		Src       string `json:"src"`
		Dst       string `json:"dst"`
		ALPN      string `json:"alpn"`
		Authority string `json:"authority"`
		UniqueID  string `json:"unique_id"`
		NetNS     string `json:"netns"`
		SSL       *struct {
			Client  int    `json:"client"`
			Version string `json:"version"`
			CN      string `json:"cn"`
		} `json:"ssl"`
	} `json:"proxy"`
}

// askWhoamiJSON sends /whoami json on c and decodes the answer.
func askWhoamiJSON(t *testing.T, c net.Conn) whoamiJSON {
	t.Helper()
	if _, err := io.WriteString(c, "/whoami json\n"); err != nil {
		t.Fatal(err)
	}
	line := echotest.ReadLine(t, bufio.NewReader(c))
	var w whoamiJSON
	if err := json.Unmarshal([]byte(line), &w); err != nil {
		t.Fatalf("/whoami json %q: %v", line, err)
	}
	return w
}

// /whoami json gives the line's fields with numbers as numbers, the SYN's options in order, and TCP_INFO.
func TestWhoamiJSON(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, whoamiConfig)
	c := echotest.DialTCP(t, d.Addr("t4"))
	w := askWhoamiJSON(t, c)
	if w.Peer != c.LocalAddr().String() || w.Proto != "tcp" || w.SynTTL != 64 || w.SynMSS == 0 {
		t.Errorf("fields: %+v", w)
	}
	var kinds []string
	for _, o := range w.SynOptions {
		kinds = append(kinds, o.Kind.(string))
	}
	// Linux sends its SYN options in this order
	if got := strings.Join(kinds, ","); got != "mss,sack_permitted,timestamps,wscale" {
		t.Errorf("syn_options %s", got)
	}
	if w.SynOptions[0].Value != w.SynMSS {
		t.Errorf("mss option %d, syn_mss %d", w.SynOptions[0].Value, w.SynMSS)
	}
	for _, k := range []string{"rtt_us", "rttvar_us", "retransmits", "total_retrans", "snd_mss", "rcv_mss", "pmtu"} {
		if _, ok := w.TCPInfo[k]; !ok {
			t.Errorf("tcp_info has no %s: %v", k, w.TCPInfo)
		}
	}
	if w.Proxy != nil {
		t.Errorf("a direct connection shows a proxy: %+v", w.Proxy)
	}
	echotest.RoundTrip(t, c, "/whoami yaml\n", "ERR unknown-argument\n")
}

// The SYN fields are the client's own: a client that sets its TTL, TOS and MSS before connecting sees them.
func TestWhoamiSYNFields(t *testing.T) {
	t.Parallel()
	needIPv6(t)
	d := echotest.Start(t, whoamiConfig)
	for _, tc := range []struct {
		listener string
		opts     []echotest.Sockopt
	}{
		{"t4", []echotest.Sockopt{echotest.Opt(syscall.IPPROTO_IP, syscall.IP_TTL, 33), echotest.Opt(syscall.IPPROTO_IP, syscall.IP_TOS, 0x28),
			echotest.Opt(syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1200)}},
		{"t6", []echotest.Sockopt{echotest.Opt(syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS, 33),
			echotest.Opt(syscall.IPPROTO_IPV6, syscall.IPV6_TCLASS, 0x28), echotest.Opt(syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1200)}},
	} {
		c := echotest.Dial(t, d.Addr(tc.listener), echotest.DialOptions{}.WithSockopts(tc.opts...))
		_, v := askWhoami(t, c)
		if v["syn_ttl"] != "33" || v["syn_tos"] != "0x28" || v["syn_mss"] != "1200" {
			t.Errorf("%s: client sent TTL 33, TOS 0x28, MSS 1200: %v", tc.listener, v)
		}
	}
}

// udpWhoami pads a /whoami request so that its answer fits the reply budget (3 times the request).
const udpWhoami = "/whoami                                                                          "

// /whoami over UDP gives the datagram's addresses and the TTL and TOS it arrived with, and a reply over the
// amplification budget is dropped and counted, as for the other commands.
func TestWhoamiUDP(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, whoamiConfig)
	c := echotest.ListenUDP(t, "127.0.0.1")
	keys, v := parseWhoami(t, echotest.AskUDP(t, c, d.Addr("u4"), udpWhoami))
	if strings.Join(keys, " ") != "peer local listener proto host ttl tos" || v["peer"] != c.LocalAddr().String() ||
		v["local"] != d.Addr("u4") || v["proto"] != "udp" || v["listener"] != "u4" {
		t.Errorf("/whoami over UDP: %q %v", keys, v)
	}
	var w whoamiJSON
	if got := echotest.AskUDP(t, c, d.Addr("u4"), "/whoami json"+udpWhoami[7:]); json.Unmarshal([]byte(got), &w) != nil ||
		w.Peer != c.LocalAddr().String() || w.Proto != "udp" || w.TCPInfo != nil {
		t.Errorf("/whoami json over UDP: %q", got)
	}
	help := "commands: /time /stats [json [NAME]] /whoami [json] /hostname /version /help\n"
	if got := echotest.AskUDP(t, c, d.Addr("u4"), "/help"+strings.Repeat(" ", 12)); got != help {
		t.Errorf("/help over UDP: %q", got)
	}
	echotest.SendUDP(t, c, d.Addr("u4"), "/help") // 5 bytes: its 79-byte answer is over the budget
	echotest.WaitStats(t, d.Addr("t4"), "the /help over budget dropped", func(s listeners.Snapshot) bool {
		return s.Listeners["u4"].UDPDropped == 1
	})
}

// /whoami over UDP gives the TTL and TOS the datagram arrived with, as the client set them.
func TestWhoamiUDPKernelFields(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, whoamiConfig)
	c := echotest.ListenUDP(t, "127.0.0.1")
	echotest.SetSockopts(t, c, echotest.Opt(syscall.IPPROTO_IP, syscall.IP_TTL, 42),
		echotest.Opt(syscall.IPPROTO_IP, syscall.IP_TOS, 0x28))
	_, v := parseWhoami(t, echotest.AskUDP(t, c, d.Addr("u4"), udpWhoami))
	if v["ttl"] != "42" || v["tos"] != "0x28" {
		t.Errorf("client sent TTL 42, TOS 0x28: %v", v)
	}
}

// /hostname, /version and /help answer over TCP; unknown commands are still unknown.
func TestDiagnosticCommands(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, whoamiConfig)
	c := echotest.DialTCP(t, d.Addr("t4"))
	host, _ := os.Hostname()
	echotest.RoundTrip(t, c, "/hostname\n", host+"\n")
	s := echotest.StatsOn(t, c)
	echotest.RoundTrip(t, c, "/version\n", "echogate "+s.Version+"\n")
	echotest.RoundTrip(t, c, "/help\n",
		"commands: /time /stats [json [NAME]] /whoami [json] /hostname /version /help /shutdown TOKEN\n")
	echotest.RoundTrip(t, c, "/whoareyou\n", "ERR unknown-command\n")
}
