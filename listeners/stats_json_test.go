package listeners

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"echogate/config"
)

// statsLoop serves two UDP and two TCP listeners, one TCP listener draining, and more UDP listeners named
// "more-N", with every counter set to a distinct value, and returns the loop and the listeners' addresses.
func statsLoop(t *testing.T, more int) (*Loop, map[string]string) {
	t.Helper()
	ls := []config.Listener{testListener("b-udp", config.UDP), testListener("a-tcp", config.TCP),
		testListener("c-udp", config.UDP), testListener("gone", config.TCP)}
	for i := range more {
		ls = append(ls[:len(ls)-1:len(ls)-1], testListener(fmt.Sprintf("more-%03d", i), config.UDP), ls[len(ls)-1])
	}
	l, addrs := startLoop(t, ls...)
	c := dialLoop(t, addrs["gone"], 10*time.Second)
	if _, err := c.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	udp := dialUDP(t, addrs["b-udp"])
	roundTripUDP(t, udp, "peer")
	old := &config.Config{Daemon: testDaemon(), Listeners: ls}
	next := &config.Config{Daemon: testDaemon(), Listeners: ls[:len(ls)-1]}
	l.Call(func() {
		l.Apply(next.Daemon, config.Plan(old, next), nil) // "gone" drains its connection
		for name, c := range l.stats.byName {
			for i := range c.values() {
				c.values()[i] = uint64(len(name))*1_000_000 + uint64(i)*1001
			}
		}
		l.stats.ReloadsOK, l.stats.TotalClients = 7, 1234567
	})
	return l, addrs
}

func dialUDP(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func roundTripUDP(t *testing.T, c *net.UDPConn, msg string) string {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 70000)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reply to %.30q: %v", msg, err)
	}
	return string(buf[:n])
}

// TestStatsJSONMatchesEncodingJSON checks the hand-written /stats json byte for byte against encoding/json:
// built from scratch, built again with the text of unchanged listeners copied, and after a reload.
func TestStatsJSONMatchesEncodingJSON(t *testing.T) {
	l, _ := statsLoop(t, 0)
	compare := func(what string, change func()) {
		t.Helper()
		var got, want []byte
		l.Call(func() {
			change()
			l.statsJSON.built -= int64(statsJSONEvery) // as if it were that old
			got = l.cachedStatsJSON()
			want, _ = json.Marshal(l.snapshot())
		})
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: /stats json differs from encoding/json:\n got %s\nwant %s", what, got, want)
		}
	}
	compare("first build", func() {})
	compare("one counter changed", func() { l.udp["b-udp"].stats.Datagrams += 1000 })
	compare("nothing changed", func() {})
	compare("every listener changed", func() {
		for _, c := range l.stats.byName {
			c.BytesIn++
		}
	})
	compare("a reload counted", func() { l.CountReload(false) })
	compare("a listener removed", func() {
		old := &config.Config{Daemon: testDaemon(), Listeners: []config.Listener{testListener("b-udp", config.UDP),
			testListener("a-tcp", config.TCP), testListener("c-udp", config.UDP)}}
		next := &config.Config{Daemon: testDaemon(), Listeners: old.Listeners[1:]}
		l.Apply(next.Daemon, config.Plan(old, next), nil)
	})
	var snap Snapshot
	l.Call(func() { snap = l.snapshot() })
	if !snap.Listeners["gone"].Draining || snap.Listeners["a-tcp"].Lines == 0 || len(snap.Listeners) != 3 {
		t.Fatalf("the snapshot does not cover what the test means to: %+v", snap.Listeners)
	}
}

func TestStatsCommand(t *testing.T) {
	l, _ := statsLoop(t, 0)
	var full Snapshot
	l.Call(func() {
		if err := json.Unmarshal(l.statsCommand(nil, []byte("json")), &full); err != nil {
			t.Error(err)
		}
	})
	for _, tc := range []struct {
		arg, want string // want: a reply, or the one listener of a JSON reply
	}{
		{"json b-udp", "b-udp"},
		{"json gone", "gone"},
		{"json \t a-tcp ", "a-tcp"},
		{"json nope", "ERR unknown-listener\n"},
		{"json b-udp c-udp", "ERR unknown-listener\n"},
		{"jsonb-udp", "ERR unknown-argument\n"},
		{"yaml", "ERR unknown-argument\n"},
	} {
		var reply []byte
		l.Call(func() { reply = l.statsCommand([]byte("before:"), trimSpace([]byte(tc.arg))) })
		reply, ok := bytes.CutPrefix(reply, []byte("before:"))
		if !ok {
			t.Errorf("/stats %s: the reply did not append to its buffer", tc.arg)
			continue
		}
		if strings.HasPrefix(tc.want, "ERR") {
			if string(reply) != tc.want {
				t.Errorf("/stats %s = %q, want %q", tc.arg, reply, tc.want)
			}
			continue
		}
		var one Snapshot
		if err := json.Unmarshal(reply, &one); err != nil || !bytes.HasSuffix(reply, []byte("}\n")) {
			t.Errorf("/stats %s = %q: %v", tc.arg, reply, err)
			continue
		}
		if len(one.Listeners) != 1 || one.Listeners[tc.want] != full.Listeners[tc.want] ||
			one.TotalClients != full.TotalClients || one.ReloadsOK != 7 {
			t.Errorf("/stats %s = %+v, want only %+v of %+v", tc.arg, one, full.Listeners[tc.want], full)
		}
	}
}

// TestStatsJSONCache checks that with statsJSONCacheFrom listeners or more, /stats json is rebuilt at most
// every statsJSONEvery, and at once when the listeners change; and that below that it is always current.
func TestStatsJSONCache(t *testing.T) {
	for _, tc := range []struct {
		name   string
		more   int
		cached bool
	}{{"few listeners", 0, false}, {"many listeners", statsJSONCacheFrom, true}} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := statsLoop(t, tc.more)
			read := func(change func()) (lines uint64, names int) {
				var s Snapshot
				l.Call(func() {
					if change != nil {
						change()
					}
					if err := json.Unmarshal(l.cachedStatsJSON(), &s); err != nil {
						t.Fatal(err)
					}
				})
				return s.Listeners["a-tcp"].Lines, len(s.Listeners)
			}
			first, names := read(nil)
			want := first + 1
			if tc.cached {
				want = first
			}
			if got, _ := read(func() { l.tcp["a-tcp"].stats.Lines++ }); got != want {
				t.Errorf("lines = %d right after the last build, want %d", got, want)
			}
			if got, _ := read(func() { l.statsJSON.built -= int64(statsJSONEvery) }); got != first+1 {
				t.Errorf("lines = %d once the cache is %s old, want %d", got, statsJSONEvery, first+1)
			}
			if _, got := read(func() {
				cur := &config.Config{Daemon: testDaemon()}
				for name := range l.udp {
					cur.Listeners = append(cur.Listeners, testListener(name, config.UDP))
				}
				next := &config.Config{Daemon: testDaemon(), Listeners: cur.Listeners[1:]}
				cur.Listeners = append(cur.Listeners, testListener("a-tcp", config.TCP))
				next.Listeners = append(next.Listeners, testListener("a-tcp", config.TCP))
				l.Apply(next.Daemon, config.Plan(cur, next), nil)
			}); got != names-1 {
				t.Errorf("%d listeners right after a reload removed one of %d", got, names)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"diag", "a.b-c_d", "", "quote\"back\\slash", "<tag>&", "tab\t", "é", "\xff",
		"\u2028"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
	for _, s := range []string{"127.0.0.1:7", "[fe80::1%eth0]:7", "[fe80::1%<eth\"0>]:7"} {
		ap := netip.MustParseAddrPort(s)
		want, _ := json.Marshal(ap.String())
		if got := appendJSONAddr([]byte("x"), ap); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Errorf("appendJSONAddr(%s) = %s, want x%s", s, got, want)
		}
	}
}

func TestMinListenerJSON(t *testing.T) {
	b, _ := json.Marshal(map[string]ListenerStats{"x": {Protocol: "tcp"}})
	if want := len(b) - 2; minListenerJSON != want {
		t.Errorf("minListenerJSON = %d, want %d, the size of the smallest listener entry", minListenerJSON, want)
	}
}
