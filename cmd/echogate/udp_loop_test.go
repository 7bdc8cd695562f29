package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"echogate/cmd/echoload/report"
	"echogate/internal/echotest"
	"echogate/listeners"
	"echogate/policy"
)

// udpLoopConfig serves a TCP listener to read /stats json from and two UDP listeners on loopback.
const udpLoopConfig = `
[[listener]]
name = "tcp"
protocol = "tcp"
address = "127.0.0.1:0"

[[listener]]
name = "u1"
protocol = "udp"
address = "127.0.0.1:0"

[[listener]]
name = "u2"
protocol = "udp"
address = "127.0.0.1:0"
`

// TestUDPLoopOwnSocket forges datagrams whose source is a listener of the daemon itself: one to the listener
// it names, one to the other listener. Answering either would start a loop that never ends; neither may be
// answered even once.
func TestUDPLoopOwnSocket(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, udpLoopConfig)
	tcp := d.Addr("tcp")
	u1, u2 := netip.MustParseAddrPort(d.Addr("u1")), netip.MustParseAddrPort(d.Addr("u2"))
	echotest.ForgeUDP4(t, u1, u1, []byte("from myself to myself\n"))
	echotest.ForgeUDP4(t, u1, u2, []byte("from one listener to the other\n"))
	s := echotest.WaitStats(t, tcp, "both forged datagrams dropped as loops", func(s listeners.Snapshot) bool {
		return s.Listeners["u1"].UDPLoopDropped >= 1 && s.Listeners["u2"].UDPLoopDropped >= 1
	})
	for _, name := range []string{"u1", "u2"} {
		if c := s.Listeners[name]; c.UDPLoopDropped != 1 || c.Datagrams != 0 || c.BytesOut != 0 {
			t.Errorf("%s: udp_loop_dropped %d, datagrams %d, bytes_out %d; want 1, 0, 0 (never answered)", name,
				c.UDPLoopDropped, c.Datagrams, c.BytesOut)
		}
	}
	echotest.UDPEcho(t, u1.String(), "u1 still answers clients")
	echotest.UDPEcho(t, u2.String(), "u2 still answers clients")
}

// TestUDPLoopTwoDaemons forges datagrams from one daemon's UDP listener to another's: with no guard, they echo
// each other's echoes forever. Three loops with different payloads must each stop within a few round trips.
func TestUDPLoopTwoDaemons(t *testing.T) {
	t.Parallel()
	a, b := echotest.Start(t, udpLoopConfig), echotest.Start(t, udpLoopConfig)
	ua, ub := netip.MustParseAddrPort(a.Addr("u1")), netip.MustParseAddrPort(b.Addr("u1"))
	const seeds = 3
	for i := range seeds {
		echotest.ForgeUDP4(t, ua, ub, fmt.Appendf(nil, "ping-pong %d\n", i))
	}
	loops := func(s listeners.Snapshot) uint64 { return s.Listeners["u1"].UDPLoopDropped }
	var sa, sb listeners.Snapshot
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		sa, sb = echotest.Stats(t, a.Addr("tcp")), echotest.Stats(t, b.Addr("tcp"))
		if loops(sa)+loops(sb) >= seeds {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("udp_loop_dropped %d + %d, want %d: the loops did not stop; datagrams %d + %d", loops(sa),
				loops(sb), seeds, sa.Listeners["u1"].Datagrams, sb.Listeners["u1"].Datagrams)
		}
	}
	// Each loop is answered at most LoopRepeatBurst times on either side before one side drops it.
	bound := uint64(seeds * 2 * (policy.LoopRepeatBurst + 1))
	for range 2 { // and the count does not move once they have stopped
		sa, sb = echotest.Stats(t, a.Addr("tcp")), echotest.Stats(t, b.Addr("tcp"))
		if n := sa.Listeners["u1"].Datagrams + sb.Listeners["u1"].Datagrams; n > bound {
			t.Fatalf("%d datagrams answered by the two daemons, want at most %d", n, bound)
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("datagrams answered: %d and %d; loops dropped: %d and %d", sa.Listeners["u1"].Datagrams,
		sb.Listeners["u1"].Datagrams, loops(sa), loops(sb))
	echotest.UDPEcho(t, ua.String(), "a still answers clients")
	echotest.UDPEcho(t, ub.String(), "b still answers clients")
}

// TestUDPLoopWildcardOwnSocket checks the own-socket rule for a wildcard listener, which sends from any local
// address with its port: loopback addresses, an address of the host's, and one added while it runs (seen
// after a reload). It needs a network namespace of its own (unshare -n) to bind the wildcard and add
// addresses.
func TestUDPLoopWildcardOwnSocket(t *testing.T) {
	if !echotest.InNetns(t) {
		return
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	ip("link", "set", "lo", "up")
	ip("addr", "add", "10.99.0.1/32", "dev", "lo")
	d := echotest.Start(t, echotest.TCP("tcp")+
		echotest.Listener("any", "udp", "0.0.0.0:0")+
		echotest.UDP("u"))
	tcp, u := d.Addr("tcp"), netip.MustParseAddrPort(d.Addr("u"))
	anyPort := netip.MustParseAddrPort(d.Addr("any")).Port()
	if _, err := d.WaitLog(`msg="host addresses" event=changed`, 10*time.Second); err != nil { // the first look, at start
		t.Fatal(err)
	}
	mark := d.LogLines()
	ip("addr", "add", "10.99.0.2/32", "dev", "lo")
	d.Signal(syscall.SIGHUP)
	if _, err := d.WaitLogAfter(mark, `msg="host addresses" event=changed`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	sources := []string{"127.0.0.5", "10.99.0.1", "10.99.0.2"}
	for _, src := range sources {
		echotest.ForgeUDP4(t, netip.AddrPortFrom(netip.MustParseAddr(src), anyPort), u, []byte("from "+src+"\n"))
	}
	s := echotest.WaitStats(t, tcp, "every forged datagram (or its echo) dropped", func(s listeners.Snapshot) bool {
		return s.Listeners["u"].UDPLoopDropped+s.Listeners["any"].UDPLoopDropped >= uint64(len(sources))
	})
	if c := s.Listeners["u"]; c.UDPLoopDropped != uint64(len(sources)) || c.Datagrams != 0 {
		t.Errorf("u: udp_loop_dropped %d, datagrams %d; want %d, 0 (none answered)", c.UDPLoopDropped,
			c.Datagrams, len(sources))
	}
	echotest.UDPEcho(t, net.JoinHostPort("127.0.0.1", fmt.Sprint(anyPort)), "the wildcard listener still answers")
	echotest.UDPEcho(t, u.String(), "u still answers")
}

// echoloadBin builds cmd/echoload once per test run ($ECHOLOAD_BIN, if set, is used instead).
var echoloadBin = commandBin("echoload", "ECHOLOAD_BIN")

// commandBin returns a function that builds echogate/cmd/<name> the first time it is called, and returns
// its path; $<env>, if set, is used instead.
func commandBin(name, env string) func() (string, error) {
	return sync.OnceValues(func() (string, error) {
		if bin := os.Getenv(env); bin != "" {
			return bin, nil
		}
		dir, err := os.MkdirTemp("", name+"-bin")
		if err != nil {
			return "", err
		}
		bin := filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", bin, "echogate/cmd/"+name).CombinedOutput(); err != nil {
			return "", fmt.Errorf("building %s: %v\n%s", name, err, out)
		}
		return bin, nil
	})
}

// TestUDPLoopGuardSparesClients runs the clients the loop guard must never limit against one listener at
// the same time: echoload at full speed (distinct payloads), and a health checker that sends the same
// payload once a second. Every datagram of both is answered.
func TestUDPLoopGuardSparesClients(t *testing.T) {
	t.Parallel()
	bin, err := echoloadBin()
	if err != nil {
		t.Fatal(err)
	}
	d := echotest.Start(t, udpLoopConfig)
	u := d.Addr("u1")
	checked := make(chan error, 1)
	go func() { // the health checker: one socket, one payload, once a second
		c, err := net.Dial("udp", u)
		if err != nil {
			checked <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		for i := range 4 {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte("health\n")); err != nil {
				checked <- err
				return
			}
			if n, err := c.Read(buf); err != nil || string(buf[:n]) != "health\n" {
				checked <- fmt.Errorf("health check %d: %q, %v", i, buf[:n], err)
				return
			}
			time.Sleep(time.Second)
		}
		checked <- nil
	}()
	out, err := exec.Command(bin, "-json", "-addr", u, "-proto", "udp", "-conns", "4", "-pipeline", "8", "-duration", "3s",
		"-size", "200").Output()
	if err != nil {
		t.Fatalf("echoload: %v\n%s", err, out)
	}
	var res report.Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("echoload output %q: %v", out, err)
	}
	if err := <-checked; err != nil {
		t.Fatal(err)
	}
	s := echotest.Stats(t, d.Addr("tcp")).Listeners["u1"]
	t.Logf("echoload: %d round trips, %.0f/s, %d errors; listener: %d datagrams", res.RoundTrips, res.RPS,
		res.Errors, s.Datagrams)
	if res.Errors != 0 || res.RoundTrips < 1000 || s.UDPLoopDropped != 0 || s.UDPDropped != 0 {
		t.Errorf("echoload %d round trips, %d errors; udp_loop_dropped %d, udp_dropped %d; want 1000 or more, "+
			"and no error or drop", res.RoundTrips, res.Errors, s.UDPLoopDropped, s.UDPDropped)
	}
}
