package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
	"echogate/listeners"
)

func TestHostileRateLimits(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCP("lines", "rate_lines = 10", "rate_burst = 10")+
		echotest.UDP("dgrams", "rate_datagrams = 5", "rate_burst = 5"))
	lines, dgrams := d.Addr("lines"), d.Addr("dgrams")
	// TCP: 100 pipelined lines against 10 a second. Reading pauses (backpressure); nothing is dropped.
	var all strings.Builder
	for i := range 100 {
		fmt.Fprintf(&all, "pipelined line %03d\n", i)
	}
	c := echotest.Dial(t, lines, patient)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	done := make(chan error, 1)
	go func() {
		got := make([]byte, all.Len())
		_, err := io.ReadFull(c, got)
		if err == nil && string(got) != all.String() {
			err = fmt.Errorf("echo differs: %q", got)
		}
		done <- err
	}()
	if _, err := io.WriteString(c, all.String()); err != nil {
		t.Fatal(err)
	}
	echotest.RoundTrip(t, echotest.Dial(t, lines, patient), "another connection has its own bucket\n",
		"another connection has its own bucket\n")

	// UDP: a burst of 50 datagrams from one source against 5 a second; the rest is dropped and counted.
	a, err := echotest.ListenUDPErr(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]bool{}
	for i := range 50 {
		msg := fmt.Sprintf("burst datagram %02d\n", i)
		sent[msg] = true
		echotest.SendUDP(t, a, dgrams, msg)
	}
	replies := 0
	for {
		got, ok := echotest.RecvUDP(t, a, time.Second)
		if !ok {
			break
		}
		if !sent[got] {
			t.Fatalf("unexpected or repeated reply %q", got)
		}
		delete(sent, got)
		replies++
	}
	if replies < 1 || replies > 10 {
		t.Errorf("%d of a burst of 50 datagrams answered at 5/s with a burst of 5, want 1..10", replies)
	}
	s := echotest.Stats(t, lines).Listeners["dgrams"]
	if s.RateLimited != uint64(50-replies) || s.UDPDropped < s.RateLimited {
		t.Errorf("dgrams rate_limited = %d, udp_dropped = %d; want %d, at least as many", s.RateLimited,
			s.UDPDropped, 50-replies)
	}
	b, err := echotest.ListenUDPErr(t, "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	echotest.ExpectUDPEcho(t, b, dgrams, "another source has its own bucket\n", "another source has its own bucket\n")
	for i := 0; ; i++ { // the first source is answered again once its bucket refills
		echotest.SendUDP(t, a, dgrams, fmt.Sprintf("again %d\n", i))
		if got, ok := echotest.RecvUDP(t, a, 300*time.Millisecond); ok && strings.HasPrefix(got, "again ") {
			break
		}
		if i == 20 {
			t.Fatal("the rate-limited source was never answered again")
		}
	}

	if err := <-done; err != nil {
		t.Fatalf("pipelined lines: %v", err)
	}
	if got := echotest.Stats(t, lines).Listeners["lines"].RateLimited; got == 0 {
		t.Error("lines rate_limited = 0 after 100 pipelined lines at 10/s")
	}
}

func TestHostileUDPReflection(t *testing.T) {
	t.Parallel()
	p, err := echotest.ListenUDPErr(t, "127.0.0.1:0") // its port goes into the custom deny list
	if err != nil {
		t.Fatal(err)
	}
	pPort := p.LocalAddr().(*net.UDPAddr).Port
	d := echotest.Start(t, echotest.TCP("tcp")+echotest.UDP("u", "max_datagram = 100")+
		echotest.UDP("custom", fmt.Sprintf("udp_deny_source_ports = [%d]", pPort))+
		echotest.UDP("peers", "max_udp_peers = 10"))
	tcp, u, custom, peers := d.Addr("tcp"), d.Addr("u"), d.Addr("custom"), d.Addr("peers")

	// 100 source ports against max_udp_peers = 10: all are answered, the table stays at 10.
	for i := range 100 {
		s, err := echotest.ListenUDPErr(t, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("peer %03d\n", i)
		echotest.ExpectUDPEcho(t, s, peers, msg, msg)
		s.Close()
	}
	if open := echotest.Stats(t, tcp).Listeners["peers"].Open; open > 10 || open == 0 {
		t.Errorf("peers open = %d, want 1..10 (max_udp_peers)", open)
	}

	// Source ports 7 and 19 (echo, chargen) are dropped by default; a custom list replaces the default.
	wantU, wantCustom := 0, 0
	var silent []*net.UDPConn
	for _, port := range []int{7, 19} {
		s, err := echotest.ListenUDPErr(t, fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Logf("cannot bind source port %d, not tested: %v", port, err)
			continue
		}
		echotest.SendUDP(t, s, u, "reflect me\n")
		wantU++
		echotest.ExpectUDPEcho(t, s, custom, "not in the custom list\n", "not in the custom list\n")
		silent = append(silent, s)
	}
	echotest.SendUDP(t, p, custom, "reflect me\n")
	wantCustom++
	echotest.ExpectUDPEcho(t, p, u, "not in the default list\n", "not in the default list\n")
	silent = append(silent, p)

	// No reply is larger than 3 times its request on the wire: unpadded /stats json gets nothing; /time gets
	// its answer, which arrives first, so the request before it got nothing.
	a, err := echotest.ListenUDPErr(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echotest.SendUDP(t, a, u, "/stats json")
	wantU++
	echotest.SendUDP(t, a, u, "/time")
	if got, ok := echotest.RecvUDP(t, a, 5*time.Second); !ok || !hTimeLine.MatchString(got) {
		t.Fatalf("/time: %q (received %v)", got, ok)
	}
	echotest.ExpectUDPEcho(t, a, u, strings.Repeat("z", 200), "ERR datagram-truncated\n")
	echotest.SendUDP(t, a, custom, "/stats json")
	wantCustom++
	req := "/stats json" + strings.Repeat(" ", 4000)
	echotest.SendUDP(t, a, custom, req)
	got, ok := echotest.RecvUDP(t, a, 5*time.Second)
	var js listeners.Snapshot
	if !ok || len(got)+28 > 3*(len(req)+28) || json.Unmarshal([]byte(got), &js) != nil || js.Listeners["custom"].Datagrams == 0 {
		t.Fatalf("padded /stats json: %q (received %v)", got, ok)
	}

	s := echotest.WaitStats(t, tcp, "the dropped datagrams", func(s listeners.Snapshot) bool {
		return s.Listeners["u"].UDPDropped >= uint64(wantU) && s.Listeners["custom"].UDPDropped >= uint64(wantCustom)
	})
	if got := s.Listeners["u"].UDPDropped; got != uint64(wantU) {
		t.Errorf("u udp_dropped = %d, want %d", got, wantU)
	}
	if got := s.Listeners["custom"].UDPDropped; got != uint64(wantCustom) {
		t.Errorf("custom udp_dropped = %d, want %d", got, wantCustom)
	}
	for _, s := range append(silent, a) {
		if got, ok := echotest.RecvUDP(t, s, 200*time.Millisecond); ok {
			t.Errorf("%s got a reply it should not have: %q", s.LocalAddr(), got)
		}
	}
	echotest.RoundTrip(t, echotest.Dial(t, tcp, patient), "tcp still fine\n", "tcp still fine\n")
}
