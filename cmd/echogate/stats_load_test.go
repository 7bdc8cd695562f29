package main

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// TestStatsJSONTenThousandListeners streams unpadded /stats json datagrams at a daemon with 10 000 listeners
// while another client does echo round trips over TCP. Each of those datagrams used to cost the loop a full
// serialisation (40 ms here) before its reply was dropped as too large, so the stream stopped every listener;
// now it is dropped before any work. The echo client must complete its round trips, and every datagram of the
// stream must be dropped and counted.
func TestStatsJSONTenThousandListeners(t *testing.T) {
	const listeners = 10_000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Max < listeners+200 {
		t.Skipf("needs %d file descriptors (RLIMIT_NOFILE %d, %v)", listeners+200, lim.Max, err)
	}
	var cfg strings.Builder
	cfg.WriteString("[[listener]]\nname = \"tcp\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n")
	for i := range listeners - 1 {
		fmt.Fprintf(&cfg, "\n[[listener]]\nname = \"u%04d\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:0\"\n", i)
	}
	d := echotest.Start(t, cfg.String(), echotest.Options{Args: []string{"-log-level", "info"}})
	tcp, target := d.Addr("tcp"), d.Addr("u0000")

	const roundTrips = 200
	echoed := make(chan error, 1)
	go func() {
		c, err := net.DialTimeout("tcp", tcp, 5*time.Second)
		if err != nil {
			echoed <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		for i := range roundTrips {
			line := fmt.Sprintf("round trip %03d\n", i)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte(line)); err != nil {
				echoed <- err
				return
			}
			if n, err := c.Read(buf); err != nil || string(buf[:n]) != line {
				echoed <- fmt.Errorf("round trip %d of %d: %q, %v", i, roundTrips, buf[:n], err)
				return
			}
		}
		echoed <- nil
	}()

	// The stream: bursts of 100 /stats json, each followed by a probe whose echo shows the burst was handled,
	// until the echo client is done (at least 10 bursts, at most 50).
	u := echotest.ListenUDP(t, "127.0.0.1:0")
	var echoErr error
	done, sent, probes := false, 0, 0
	for burst := 0; burst < 50 && (burst < 10 || !done); burst++ {
		for range 100 {
			echotest.SendUDP(t, u, target, statsJSONRequest(sent))
			sent++
		}
		probe := fmt.Sprintf("probe %d", burst)
		echotest.SendUDP(t, u, target, probe)
		probes++
		if got, ok := echotest.RecvUDP(t, u, 20*time.Second); !ok || got != probe {
			t.Fatalf("after %d /stats json datagrams, the probe got %q (received %v)", sent, got, ok)
		}
		select {
		case echoErr = <-echoed:
			done = true
		default:
		}
	}
	if !done {
		echoErr = <-echoed
	}
	if echoErr != nil {
		t.Fatalf("echo client during the /stats json stream: %v", echoErr)
	}
	s := echotest.Stats(t, tcp)
	if c := s.Listeners["u0000"]; c.UDPDropped != uint64(sent) || c.Datagrams != uint64(sent+probes) ||
		c.UDPLoopDropped != 0 {
		t.Errorf("u0000: udp_dropped %d, datagrams %d, udp_loop_dropped %d; want %d (every /stats json dropped), "+
			"%d and 0", c.UDPDropped, c.Datagrams, c.UDPLoopDropped, sent, sent+probes)
	}
	if len(s.Listeners) != listeners {
		t.Errorf("/stats json lists %d listeners, want %d", len(s.Listeners), listeners)
	}
	t.Logf("%d /stats json datagrams dropped while %d TCP round trips completed", sent, roundTrips)
}

// statsJSONRequest is the i-th of a stream of distinct /stats json datagrams, which the loop guard would not
// take for an echo loop: i in binary as trailing spaces and tabs, which the command parser trims.
func statsJSONRequest(i int) string {
	b := []byte("/stats json ")
	for ; i > 0; i >>= 1 {
		b = append(b, " \t"[i&1])
	}
	return string(b)
}
