package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
	"echogate/listeners"
)

// pUDPConfig serves the UDP listeners the datagram tests use.
const pUDPConfig = `
[[listener]]
name = "u"
protocol = "udp"
address = "127.0.0.1:0"

[[listener]]
name = "small"
protocol = "udp"
address = "127.0.0.1:0"
max_datagram = 100

[[listener]]
name = "nocmd"
protocol = "udp"
address = "127.0.0.1:0"
commands = false

[[listener]]
name = "deny"
protocol = "udp"
address = "127.0.0.1:0"
allow = ["127.0.0.1/32"]
`

// pUDPNoReply sends payload and checks that it gets no answer: the daemon answers datagrams in order, so the
// next reply must be the echo of a probe sent after it.
func pUDPNoReply(t *testing.T, c *net.UDPConn, srv, payload string) {
	t.Helper()
	probe := fmt.Sprintf("probe %d", time.Now().UnixNano())
	to, _ := net.ResolveUDPAddr("udp", srv)
	if _, err := c.WriteToUDP([]byte(payload), to); err != nil {
		t.Fatal(err)
	}
	if got := echotest.AskUDP(t, c, srv, probe); got != probe {
		t.Fatalf("%.40q got the reply %.80q, want none", payload, got)
	}
}

func TestUDPEcho(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, pUDPConfig)
	u, small, nocmd := d.Addr("u"), d.Addr("small"), d.Addr("nocmd")
	big := strings.Repeat("0123456789abcdef", 4000) // 64000 bytes
	for _, tc := range []struct{ name, srv, send, want string }{
		{"text", u, "hello\n", "hello\n"},
		{"no newline", u, "hello", "hello"},
		{"binary", u, "\x00\x01\xff\xfe\r\n\x00", "\x00\x01\xff\xfe\r\n\x00"},
		{"several lines are one datagram", u, "a\nb\n/time\n", "a\nb\n/time\n"},
		{"empty datagram", u, "", ""},
		{"large", u, big, big},
		{"exactly max_datagram", small, strings.Repeat("s", 100), strings.Repeat("s", 100)},
		{"max_datagram+1", small, strings.Repeat("s", 101), "ERR datagram-truncated\n"},
		{"far over max_datagram", small, big, "ERR datagram-truncated\n"},
		{"truncated command", small, "/time" + strings.Repeat(" ", 200), "ERR datagram-truncated\n"},
		{"commands off: time", nocmd, "/time", "/time"},
		{"commands off: shutdown", nocmd, "/shutdown x\n", "/shutdown x\n"},
		{"commands off: stats", nocmd, "/stats", "/stats"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := echotest.ListenUDP(t, "127.0.0.1")
			if got := echotest.AskUDP(t, c, tc.srv, tc.send); got != tc.want {
				t.Fatalf("got %d bytes %.60q, want %d bytes %.60q", len(got), got, len(tc.want), tc.want)
			}
		})
	}
}

// Every datagram over max_datagram is counted in udp_truncated of its listener, and one of exactly
// max_datagram is not.
func TestUDPTruncatedCounted(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, pUDPConfig+echotest.TCPListener("stats", "127.0.0.1:0"))
	small := d.Addr("small")
	c := echotest.ListenUDP(t, "127.0.0.1")
	for _, n := range []int{101, 1000, 64000} {
		if got := echotest.AskUDP(t, c, small, strings.Repeat("t", n)); got != "ERR datagram-truncated\n" {
			t.Fatalf("%d bytes: got %.60q", n, got)
		}
	}
	if got := echotest.AskUDP(t, c, small, strings.Repeat("s", 100)); got != strings.Repeat("s", 100) {
		t.Fatalf("100 bytes: got %.60q", got)
	}
	s := echotest.Stats(t, d.Addr("stats")).Listeners
	if got := s["small"].UDPTruncated; got != 3 {
		t.Errorf("small: udp_truncated = %d, want 3", got)
	}
	if got := s["small"].Datagrams; got != 4 {
		t.Errorf("small: datagrams = %d, want 4", got)
	}
}

// pPad pads a command datagram with spaces to n bytes: a reply may be at most 3 times its request on the wire,
// so /stats json needs it.
func pPad(cmd string, n int) string { return cmd + strings.Repeat(" ", n-len(cmd)) }

func TestUDPCommands(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, pUDPConfig)
	u := d.Addr("u")
	stats := regexp.MustCompile(`^\d+ \d+ \d+\n$`)
	for _, tc := range []struct {
		name, send string
		want       string         // exact reply, or
		match      *regexp.Regexp // a reply pattern, or neither: no reply at all
		isTime     bool
	}{
		{name: "time padded", send: pPad("/time", 32), isTime: true},
		{name: "time crlf padded", send: "/time\r\n" + strings.Repeat(" ", 20), isTime: true},
		{name: "time exactly as long as its reply", send: pPad("/time", 20), isTime: true},
		{name: "stats padded", send: pPad("/stats", 32), match: stats},
		{name: "shutdown padded", send: pPad("/shutdown", 32), want: "ERR shutdown-not-allowed\n"},
		{name: "shutdown with token padded", send: pPad("/shutdown "+pToken, 40), want: "ERR shutdown-not-allowed\n"},
		{name: "unknown padded", send: pPad("/nope", 32), want: "ERR unknown-command\n"},
		{name: "case-sensitive", send: pPad("/TIME", 32), want: "ERR unknown-command\n"},
		{name: "time unpadded", send: "/time", isTime: true},
		{name: "stats unpadded", send: "/stats", match: stats},
		{name: "shutdown unpadded", send: "/shutdown", want: "ERR shutdown-not-allowed\n"},
		{name: "shutdown with token unpadded", send: "/shutdown " + pToken, want: "ERR shutdown-not-allowed\n"},
		{name: "unknown unpadded", send: "/x", want: "ERR unknown-command\n"},
		{name: "stats json unpadded", send: "/stats json"},
		{name: "stats json of one listener unpadded", send: "/stats json u"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := echotest.ListenUDP(t, "127.0.0.1")
			if tc.want == "" && tc.match == nil && !tc.isTime {
				pUDPNoReply(t, c, u, tc.send)
				return
			}
			got := echotest.AskUDP(t, c, u, tc.send)
			switch {
			case tc.isTime:
				pCheckTimeReply(t, got)
			case tc.match != nil:
				if !tc.match.MatchString(got) {
					t.Fatalf("got %q, want a match of %s", got, tc.match)
				}
			case got != tc.want:
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestUDPStats checks /stats over UDP on a daemon of its own, so that the counts are exact. An unpadded
// "/stats" is answered; "/stats json" needs padding.
func TestUDPStats(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.DaemonTOML(`udp_peer_window = "1h"`)+
		echotest.UDP("u"))
	u := d.Addr("u")
	a, b := echotest.ListenUDP(t, "127.0.0.1"), echotest.ListenUDP(t, "127.0.0.1")
	if got := echotest.AskUDP(t, a, u, "/stats"); got != "1 0 1\n" {
		t.Fatalf("first peer: /stats = %q, want %q", got, "1 0 1\n")
	}
	pUDPNoReply(t, a, u, "/stats json")
	if got := echotest.AskUDP(t, b, u, pPad("/stats", 64)); got != "2 0 2\n" {
		t.Fatalf("second peer: /stats = %q, want %q", got, "2 0 2\n")
	}
	if got := echotest.AskUDP(t, a, u, pPad("/stats", 64)); got != "2 0 2\n" {
		t.Fatalf("first peer again: /stats = %q, want %q", got, "2 0 2\n")
	}
	line := echotest.AskUDP(t, a, u, pPad("/stats json", 4096))
	var snap struct {
		TotalClients uint64 `json:"total_clients"`
		UDPActive    int    `json:"udp_active"`
	}
	if !strings.HasSuffix(line, "\n") || json.Unmarshal([]byte(line), &snap) != nil {
		t.Fatalf("/stats json over UDP = %q", line)
	}
	if snap.TotalClients != 2 || snap.UDPActive != 2 {
		t.Fatalf("/stats json total_clients %d udp_active %d, want 2 2", snap.TotalClients, snap.UDPActive)
	}
}

func TestUDPCIDRDrop(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, pUDPConfig)
	deny := d.Addr("deny")
	out := echotest.ListenUDP(t, "127.0.0.2")
	to, _ := net.ResolveUDPAddr("udp", deny)
	if _, err := out.WriteToUDP([]byte("from outside\n"), to); err != nil {
		t.Fatal(err)
	}
	in := echotest.ListenUDP(t, "127.0.0.1")
	if got := echotest.AskUDP(t, in, deny, "from inside\n"); got != "from inside\n" {
		t.Fatalf("allowed client got %q", got)
	}
	// The loop answers in order: the datagram from outside has been handled, and counted as refused.
	line := echotest.AskUDP(t, in, deny, pPad("/stats json", 8192))
	var snap struct {
		Listeners map[string]struct {
			RefusedCIDR uint64 `json:"refused_cidr"`
			UDPDropped  uint64 `json:"udp_dropped"`
		} `json:"listeners"`
	}
	if err := json.Unmarshal([]byte(line), &snap); err != nil {
		t.Fatalf("/stats json %q: %v", line, err)
	}
	if st := snap.Listeners["deny"]; st.RefusedCIDR != 1 || st.UDPDropped != 1 {
		t.Errorf("deny: refused_cidr %d udp_dropped %d, want 1 1", st.RefusedCIDR, st.UDPDropped)
	}
	out.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 100)
	if n, _, err := out.ReadFromUDP(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("client outside allow got %q (%v), want nothing", buf[:n], err)
	}
}

// TestUDPReplyBudget pins the anti-amplification rule (RFC 9000 §8.1) at its edge: a reply may be up to 3
// times its request as it was on the wire, headers included (IPv4 20+8 bytes, IPv6 40+8). The reply used
// is /stats json for a listener nobody talks to, whose size does not change during the test.
func TestUDPReplyBudget(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.UDP("u4")+
		echotest.Listener("u6", "udp", "[::1]:0")+
		echotest.UDP("quiet"))
	u4, u6 := d.Addr("u4"), d.Addr("u6")
	c4, c6 := echotest.ListenUDP(t, "127.0.0.1"), echotest.ListenUDP(t, "::1")
	echotest.AskUDP(t, c4, u4, "first datagram") // both clients are peers before the size is taken
	echotest.AskUDP(t, c6, u6, "first datagram")
	const cmd = "/stats json quiet"
	reply := echotest.AskUDP(t, c4, u4, pPad(cmd, 2000))
	if !strings.HasPrefix(reply, "{") || !strings.HasSuffix(reply, "}\n") {
		t.Fatalf("%s: %q", cmd, reply)
	}
	for _, tc := range []struct {
		name    string
		c       *net.UDPConn
		srv     string
		headers int
	}{{"ipv4", c4, u4, 20 + 8}, {"ipv6", c6, u6, 40 + 8}} {
		// The smallest request n with len(reply)+headers <= 3*(n+headers).
		n := (len(reply) + tc.headers - 3*tc.headers + 2) / 3
		if got := echotest.AskUDP(t, tc.c, tc.srv, pPad(cmd, n)); got != reply {
			t.Errorf("%s: a %d-byte request for a %d-byte reply got %q", tc.name, n, len(reply), got)
		}
		pUDPNoReply(t, tc.c, tc.srv, pPad(cmd, n-1))
	}
	var s listeners.Snapshot
	if err := json.Unmarshal([]byte(echotest.AskUDP(t, c4, u4, pPad("/stats json", 4000))), &s); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"u4", "u6"} { // the one request a byte too short, dropped and counted
		if got := s.Listeners[name].UDPDropped; got != 1 {
			t.Errorf("%s: udp_dropped = %d, want 1", name, got)
		}
	}
}
