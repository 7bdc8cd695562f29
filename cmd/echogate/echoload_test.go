package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"echogate/cmd/echoload/report"
	"echogate/internal/echotest"
)

// runEchoload runs the echoload binary with args and returns its stdout and exit status.
func runEchoload(t *testing.T, args ...string) (string, int) {
	t.Helper()
	bin, err := echoloadBin()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("echoload %s:\n%s%s", strings.Join(args, " "), out, stderr.String())
	return string(out), echotest.ExitCode(err)
}

// TestEcholoadPing probes a TCP and a UDP listener of the daemon in ping mode: one line per probe with its
// sequence number and round trip, then ping's statistics; -json gives the same summary as one JSON line.
// The daemon's counters show the probes arrived. A port nothing listens on is 100 % loss and status 1.
func TestEcholoadPing(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, udpLoopConfig)
	for _, tc := range []struct{ proto, listener string }{{"tcp", "tcp"}, {"udp", "u1"}} {
		t.Run(tc.proto, func(t *testing.T) {
			addr := d.Addr(tc.listener)
			out, code := runEchoload(t, "-addr", addr, "-proto", tc.proto, "-count", "3", "-interval", "50ms")
			probe := regexp.MustCompile(`^64 bytes from ` + regexp.QuoteMeta(addr) + `: seq=(\d) time=\d+\.\d{3} ms$`)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if code != 0 || len(lines) != 6 {
				t.Fatalf("exit %d, %d lines; want 0 and 3 probe lines plus 3 summary lines", code, len(lines))
			}
			for i, l := range lines[:3] {
				if m := probe.FindStringSubmatch(l); m == nil || m[1] != fmt.Sprint(i+1) {
					t.Errorf("probe line %q, want %q", l, probe)
				}
			}
			for i, want := range []string{"--- " + addr + " " + tc.proto + " echo statistics ---",
				"3 probes sent, 3 echoed, 0.0% loss, time ", "rtt min/avg/max/mdev = "} {
				if !strings.HasPrefix(lines[3+i], want) {
					t.Errorf("summary line %q, want it to start with %q", lines[3+i], want)
				}
			}
			out, code = runEchoload(t, "-addr", addr, "-proto", tc.proto, "-count", "2", "-interval", "10ms", "-json")
			var r report.Result
			if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || r.Ping == nil {
				t.Fatalf("exit %d, output %q (%v); want one JSON line with a ping summary", code, out, err)
			}
			if p := r.Ping; p.Sent != 2 || p.Received != 2 || p.LossPct != 0 || p.MinUs <= 0 || p.MaxUs < p.AvgUs {
				t.Errorf("ping summary %+v; want 2 sent, 2 received, no loss, plausible round trips", *p)
			}
		})
	}
	s := echotest.Stats(t, d.Addr("tcp"))
	if u := s.Listeners["u1"]; u.Datagrams != 5 {
		t.Errorf("u1 answered %d datagrams, want the 5 probes", u.Datagrams)
	}
	out, code := runEchoload(t, "-addr", echotest.FreeAddr(t, "udp"), "-proto", "udp", "-count", "2",
		"-interval", "10ms", "-timeout", "200ms")
	if code != 1 || !strings.Contains(out, "2 probes sent, 0 echoed, 100.0% loss") {
		t.Errorf("exit %d, output %q; want 1 and 100%% loss", code, out)
	}
}

// TestEcholoadRate runs echoload's open loop against the daemon: the rate it reports is the one it was given.
func TestEcholoadRate(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, udpLoopConfig)
	const rate = 2000.0
	out, code := runEchoload(t, "-addr", d.Addr("tcp"), "-conns", "4", "-rate", fmt.Sprint(rate), "-duration", "2s",
		"-warmup", "200ms", "-json")
	var r report.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
		t.Fatalf("exit %d, output %q (%v)", code, out, err)
	}
	if r.Rate != rate || math.Abs(r.RPS-rate) > 0.05*rate || r.Errors != 0 || r.P50us <= 0 {
		t.Errorf("rate %v, rps %v, errors %d, p50 %v µs; want rps within 5%% of %v and no errors", r.Rate,
			r.RPS, r.Errors, r.P50us, rate)
	}
}

// TestEcholoadGSO runs echoload -gso against a UDP listener of the daemon: each batch of 16 datagrams leaves
// as one UDP_SEGMENT message and reaches the daemon's socket as one coalesced run (UDP_GRO); echoload checks
// every echoed datagram, and the daemon counts each one as a datagram of a run.
func TestEcholoadGSO(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, udpLoopConfig)
	out, code := runEchoload(t, "-addr", d.Addr("u1"), "-proto", "udp", "-conns", "2", "-pipeline", "16", "-gso",
		"-requests", "3200", "-duration", "5s", "-json")
	var r report.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || r.Errors != 0 || r.RoundTrips < 3200 {
		t.Fatalf("exit %d, output %q (%v); want at least 3200 round trips and no errors", code, out, err)
	}
	u := echotest.Stats(t, d.Addr("tcp")).Listeners["u1"]
	if u.UDPCoalesced != u.Datagrams || u.Datagrams < 3200 || u.UDPSegmented == 0 {
		t.Errorf("u1: datagrams %d, udp_coalesced %d, udp_segmented %d; want every datagram of a run counted, "+
			"replies sent as segments", u.Datagrams, u.UDPCoalesced, u.UDPSegmented)
	}
	if _, code := runEchoload(t, "-addr", d.Addr("tcp"), "-gso", "-duration", "1s"); code != 2 {
		t.Errorf("-gso over TCP: exit %d, want 2 (bad flags)", code)
	}
}
