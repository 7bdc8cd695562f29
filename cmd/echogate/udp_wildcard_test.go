package main

import (
	"net"
	"os/exec"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// A UDP listener on the wildcard address answers from the address the client sent to, not from whatever
// address routing would pick: a client with a connected socket (as most probes use) drops replies from any
// other address. The test needs a host with several addresses, so it re-runs itself in a network namespace of
// its own (unshare -n), where the wildcard covers only that namespace's loopback.
func TestUDPWildcardRepliesFromDestination(t *testing.T) {
	if !echotest.InNetns(t) {
		return
	}
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"-6", "addr", "add", "fd00::5/128", "dev", "lo", "nodad"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	d := echotest.Start(t, echotest.Listener("any4", "udp", "0.0.0.0:0")+
		echotest.Listener("any6", "udp", "[::]:0"))
	port4 := mustPort(t, d.Addr("any4"))
	port6 := mustPort(t, d.Addr("any6"))
	for _, tc := range []struct{ name, from, to string }{
		{"ipv4 to a second address", "127.0.0.1:0", net.JoinHostPort("127.0.0.5", port4)},
		{"ipv4 on a dual-stack socket", "127.0.0.1:0", net.JoinHostPort("127.0.0.5", port6)},
		{"ipv6 to a second address", "[::1]:0", net.JoinHostPort("fd00::5", port6)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			laddr, _ := net.ResolveUDPAddr("udp", tc.from)
			raddr, _ := net.ResolveUDPAddr("udp", tc.to)
			c, err := net.DialUDP("udp", laddr, raddr) // connected: accepts replies from raddr only
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := c.Write([]byte("where from?")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != "where from?" {
				t.Fatalf("reply %q, %v: the reply did not come from %s", buf[:n], err, tc.to)
			}
		})
	}
}

func mustPort(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}
