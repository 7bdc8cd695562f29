package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
)

func TestMain(m *testing.M) { echotest.Main(m) }

// A session against the daemon, stateful and authenticated: every packet comes back, the loss is split by
// direction, the TTL and DSCP the test packets were sent with are reported as the reflector saw them, and
// the replies come back with the DSCP asked for (46, not the test packets' 10) and RP 0.
func TestSessionThroughDaemon(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	if err := os.WriteFile(key, []byte("a-stamp-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := echotest.Start(t, echotest.Listener("plain", "udp", "127.0.0.1:0", `mode = "stamp"`, "stamp_stateful = true")+
		echotest.Listener("auth", "udp", "127.0.0.1:0", `mode = "stamp"`, `stamp_auth = "required"`,
			`stamp_key_file = "`+key+`"`))
	for _, tc := range []struct{ name, key string }{{"plain", ""}, {"auth", key}} {
		o := options{addr: d.Addr(tc.name), count: 20, rate: 1000, wait: 5 * time.Second, keyFile: tc.key, ttl: 12,
			dscp: 46, sendDSCP: 10, tlvs: true}
		res, err := run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case res.Sent != 20 || res.Received != 20 || res.BadReplies != 0 || res.Authenticated != (tc.key != ""):
			t.Fatalf("%s: %+v", tc.name, res)
		case res.LossForward == nil || *res.LossForward != 0 || *res.LossBackward != 0:
			t.Fatalf("%s: loss by direction not reported: %+v", tc.name, res)
		case !slices.Equal(res.TTL, []int{12}) || !slices.Equal(res.DSCP, []int{10}):
			t.Fatalf("%s: TTL %v DSCP %v, want [12] [10]", tc.name, res.TTL, res.DSCP)
		case !slices.Equal(res.ReplyDSCP, []int{46}) || !slices.Equal(res.RP, []int{0}):
			t.Fatalf("%s: reply DSCP %v RP %v, want [46] [0] (every DSCP is permitted)", tc.name, res.ReplyDSCP, res.RP)
		case res.Turnaround.Min < 0 || res.RoundTrip.Max <= 0:
			t.Fatalf("%s: times %+v %+v", tc.name, res.Turnaround, res.RoundTrip)
		}
		var out bytes.Buffer
		if err := res.writeJSON(&out); err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := json.Unmarshal(out.Bytes(), &back); err != nil || back["received"] != 20.0 || strings.Count(out.String(), "\n") != 1 {
			t.Fatalf("-json: %v %s", err, out.String())
		}
	}
	// Signed with another key, nothing comes back: the session reports all of it lost.
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("another-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := run(context.Background(), options{addr: d.Addr("auth"), count: 3, rate: 100, wait: 300 * time.Millisecond,
		keyFile: other, tlvs: true})
	if err != nil || res.Received != 0 || res.LossRoundTrip != 3 {
		t.Fatalf("wrong key: %+v, %v", res, err)
	}
}

// A session longer than the socket's receive buffer holds is counted while it is sent: with a buffer of
// 64 KiB (about 170 replies) and 5 000 test packets, replies that waited for the end of the sending would
// be lost, and reported as loss that the path never had.
func TestLongSessionCountedWhileSent(t *testing.T) {
	d := echotest.Start(t, echotest.Listener("s", "udp", "127.0.0.1:0", `mode = "stamp"`))
	o := options{addr: d.Addr("s"), count: 5000, rate: 5000, wait: 2 * time.Second, rcvbuf: 64 << 10}
	res, err := run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if t.Logf("sent %d, received %d", res.Sent, res.Received); res.Sent != 5000 || res.Received < 4750 {
		t.Fatalf("sent %d, received %d; want 5000 and at least 95 %% received", res.Sent, res.Received)
	}
}

// With a stateful reflector the gaps in its sequence numbers are the forward loss, the rest the backward.
func TestLossByDirection(t *testing.T) {
	r := newResult(&session{o: options{addr: "x"}}, 10)
	// Test packets 0..9; 2 and 5 never reached the reflector (its numbers skip), 7's reply was lost.
	refl := uint32(0)
	for seq := uint32(0); seq < 10; seq++ {
		if seq == 2 || seq == 5 {
			continue
		}
		if seq != 7 {
			r.add(sample{reflSeq: refl, senderSeq: seq, t1: 1, t2: 2, t3: 3, t4: 5})
		}
		refl++
	}
	r.finish()
	if r.LossRoundTrip != 3 || r.LossForward == nil || *r.LossForward != 2 || *r.LossBackward != 1 || !r.ReflectorStateful {
		t.Fatalf("loss %d, forward %v, backward %v", r.LossRoundTrip, r.LossForward, r.LossBackward)
	}
	if r.RoundTrip.Max != 0.003 || r.Turnaround.Min != 0.001 { // (5−1)−(3−2) ns, 3−2 ns, in µs
		t.Fatalf("times %+v %+v", r.RoundTrip, r.Turnaround)
	}
	// A stateless reflector with loss cannot tell the direction.
	r = newResult(&session{o: options{addr: "x"}}, 3)
	r.add(sample{reflSeq: 0, senderSeq: 0})
	if r.finish(); r.LossForward != nil {
		t.Fatal("a direction was guessed for a stateless reflector")
	}
}

// The flags: -send-dscp defaults to -dscp; both are DSCPs.
func TestDSCPFlags(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		dscp, sendDSCP int
		err            string
	}{
		{[]string{"-dscp", "46", "h:862"}, 46, 46, ""},
		{[]string{"-dscp", "46", "-send-dscp", "0", "h:862"}, 46, 0, ""},
		{[]string{"-dscp", "64", "h:862"}, 0, 0, "-dscp must be 0..63"},
		{[]string{"-send-dscp", "64", "h:862"}, 0, 0, "-send-dscp must be 0..63, or -1 for -dscp"},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.err)
		case tc.err == "" && (err != nil || o.dscp != tc.dscp || o.sendDSCP != tc.sendDSCP):
			t.Errorf("%v: -dscp %d -send-dscp %d (%v), want %d %d", tc.args, o.dscp, o.sendDSCP, err, tc.dscp, tc.sendDSCP)
		}
	}
}

// The text report says which DSCP the replies arrived with and what RP says of the one asked for.
func TestReverseClassText(t *testing.T) {
	asked := 46
	for _, tc := range []struct {
		r    result
		want string
	}{
		{result{DSCPAsked: &asked, ReplyDSCP: []int{46}, RP: []int{0}},
			"reflected packets arrived with DSCP [46]; DSCP 46 asked for: applied by the reflector (RP 0)\n"},
		{result{DSCPAsked: &asked, ReplyDSCP: []int{10}, RP: []int{1}},
			"reflected packets arrived with DSCP [10]; DSCP 46 asked for: not permitted by the reflector, which kept the test packets' (RP 1)\n"},
		{result{ReplyDSCP: []int{0}}, "reflected packets arrived with DSCP [0] (no Class of Service TLV sent)\n"},
	} {
		var b strings.Builder
		tc.r.writeReverseClass(&b)
		if got := strings.TrimSpace(b.String()) + "\n"; got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}
