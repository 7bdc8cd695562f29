package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"echogate/internal/echotest"
)

// The SYN fields are what arrived, not what was sent: a client in another network namespace, reached through
// a router namespace that decrements the TTL (and, with iptables, clamps the MSS and remarks the DSCP), sees
// the router's changes in /whoami.
func TestWhoamiSYNThroughRouter(t *testing.T) {
	echotest.NeedRouting(t)
	if !echotest.InNetns(t) {
		return
	}
	r := echotest.NewRouted(t)
	mangle := ""
	if _, err := exec.LookPath("iptables"); err != nil {
		mangle = "iptables not installed"
	} else if err := r.RouterErr("iptables", "-t", "mangle", "-A", "FORWARD", "-p", "tcp", "--tcp-flags", "SYN,RST",
		"SYN", "-j", "TCPMSS", "--set-mss", "1200"); err != nil {
		mangle = err.Error()
	} else if err := r.RouterErr("iptables", "-t", "mangle", "-A", "FORWARD", "-j", "DSCP", "--set-dscp", "10"); err != nil {
		mangle = err.Error()
	}
	d := echotest.Start(t, echotest.TCPListener("t", r.ServerIP+":0"))
	c := r.Dial(t, d.Addr("t"), echotest.DialOptions{}.WithSockopts(echotest.Opt(syscall.IPPROTO_IP, syscall.IP_TTL, 64),
		echotest.Opt(syscall.IPPROTO_IP, syscall.IP_TOS, 0), echotest.Opt(syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1400)))
	_, v := askWhoami(t, c)
	if !strings.HasPrefix(v["peer"], r.ClientIP+":") || v["syn_ttl"] != "63" {
		t.Errorf("client %s sent TTL 64 through one router: %v", r.ClientIP, v)
	}
	if mangle != "" {
		t.Logf("no mangle rules in the router (%s): the MSS and DSCP are not checked", mangle)
		return
	}
	if v["syn_mss"] != "1200" || v["syn_tos"] != "0x28" {
		t.Errorf("client sent MSS 1400 and TOS 0, the router set MSS 1200 and DSCP 10: %v", v)
	}
}

// On a wildcard UDP socket, /whoami's local= is the address the datagram was sent to, not the wildcard.
func TestWhoamiUDPWildcardLocal(t *testing.T) {
	if !echotest.InNetns(t) {
		return
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v\n%s", err, out)
	}
	d := echotest.Start(t, echotest.Listener("any", "udp", "0.0.0.0:0")+echotest.Listener("dual", "udp", "[::]:0"))
	for _, name := range []string{"any", "dual"} {
		to := "127.0.0.5:" + mustPort(t, d.Addr(name))
		_, v := parseWhoami(t, echotest.AskUDP(t, echotest.ListenUDP(t, "127.0.0.1"), to, udpWhoami))
		if v["local"] != to {
			t.Errorf("%s: local=%s, want %s", name, v["local"], to)
		}
	}
}
