package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSideAdd(t *testing.T) {
	var s side
	s.add(loadResult{RoundTrips: 1000, DurationS: 1, RPS: 1000}, 5*time.Millisecond)
	s.add(loadResult{RoundTrips: 3000, DurationS: 1, RPS: 3000, Errors: 2}, 7*time.Millisecond)
	if s.RoundTrips != 4000 || s.RPS != 2000 || s.CPUusPerRT != 3 || s.Errors != 2 || len(s.Runs) != 2 {
		t.Fatalf("side = %+v; want 4000 rt, 2000 rt/s, 3 µs/rt, 2 errors, 2 runs", s)
	}
	if s.Runs[0].CPUusPerRT != 5 {
		t.Fatalf("first run %v µs/rt, want 5", s.Runs[0].CPUusPerRT)
	}
}

func sampleReport() *report {
	return &report{
		Rounds: 3, DurationS: 3, Seconds: 120,
		Points: []pointResult{
			{point: points[0], C: side{Server: "C", RPS: 20000, CPUusPerRT: 5.1, RoundTrips: 1},
				Echogate: side{Server: "echogate", RPS: 19000, CPUusPerRT: 5.3, RoundTrips: 1}, Ratio: 1.039},
			{point: points[1], C: side{Server: "C", RPS: 1, CPUusPerRT: 1, RoundTrips: 1, Errors: 3, ErrSample: "x"},
				Echogate: side{Server: "echogate", Err: "echogate: exited at start\nusage"}},
		},
		Idle: &idleResult{Conns: 10000, C: idleSide{Server: "C", Established: 10000},
			Echogate: idleSide{Server: "echogate", Established: 10000, BytesPerConn: 431.7}},
		Reload: &reloadResult{Listeners: 100, Established: 10000, Took: "5.1ms", LoopPause: "700µs"},
	}
}

func TestPrintTable(t *testing.T) {
	var b bytes.Buffer
	printTable(&b, sampleReport())
	out := b.String()
	lines := strings.Split(out, "\n")
	for _, want := range []string{
		"C rt/s", "echogate µs/rt", "ratio", "1.04", "19000", "5.300", "n/a", "1!", "432",
		"took=5.1ms loop_pause=700µs, connections lost 0",
		"note: tcp 50 conns 64 B, C: 3 echo errors", "note: tcp 50 conns 64 B, echogate: echogate: exited at start usage",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	width := len([]rune(lines[0]))
	for _, l := range lines[1:4] {
		if len([]rune(l)) != width {
			t.Errorf("row %q is not aligned with the header (%d runes, want %d)", l, len([]rune(l)), width)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.json")
	if err := writeJSON(path, sampleReport()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Points) != 2 || r.Points[0].Key != "tcp1" || r.Points[0].Ratio != 1.039 || r.Idle.Echogate.BytesPerConn != 431.7 {
		t.Fatalf("round trip through JSON lost data: %+v", r)
	}
}

func TestDecodeLoad(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		rt        uint64
		ok        bool
	}{
		{"one line", `{"proto":"tcp","round_trips":12,"errors":0}` + "\n", 12, true},
		{"last line wins", "noise\n" + `{"round_trips":7}` + "\n\n", 7, true},
		{"empty", "", 0, false},
		{"not json", "panic: oops\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeLoad([]byte(tc.out))
			if (err == nil) != tc.ok || r.RoundTrips != tc.rt {
				t.Fatalf("decodeLoad = %+v, %v; want %d, ok=%v", r, err, tc.rt, tc.ok)
			}
		})
	}
}

func TestLoadArgs(t *testing.T) {
	got := strings.Join(points[3].loadArgs(7007, 3*time.Second), " ")
	want := "-addr 127.0.0.1:7007 -proto tcp -conns 50 -size 64 -pipeline 16 -duration 3s -timeout 2s -allow-errors -json"
	if got != want {
		t.Fatalf("loadArgs = %q, want %q", got, want)
	}
}

func TestListenArgv(t *testing.T) {
	e := serverSpec{name: "echogate", bin: "bin/echogate", echogate: true}
	c := serverSpec{name: "C", bin: "bin/echo-c"}
	if got, want := strings.Join(e.listenArgv(9), " "),
		"bin/echogate run -listen tcp://127.0.0.1:9 -listen udp://127.0.0.1:9 -log-level warn"; got != want {
		t.Errorf("echogate argv %q, want %q", got, want)
	}
	if got, want := strings.Join(c.listenArgv(9), " "), "bin/echo-c -p 9 -u"; got != want {
		t.Errorf("C argv %q, want %q", got, want)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-quick", "-only", "tcp1, idle", "-self-test"})
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 1 || o.duration != time.Second || !o.wants("tcp1") || !o.wants("idle") || o.wants("reload") {
		t.Fatalf("options %+v", o)
	}
	if s := o.specs(); s[1].echogate || s[1].bin != o.cbaseline {
		t.Fatalf("self-test specs %+v", s)
	}
	if _, err := parseFlags([]string{"-rounds", "0"}); err == nil {
		t.Fatal("-rounds 0 accepted")
	}
}

func TestIncomplete(t *testing.T) {
	r := sampleReport()
	if !r.incomplete() {
		t.Fatal("a report with a failed server is complete")
	}
	r.Points = r.Points[:1]
	if r.incomplete() {
		t.Fatal("a report without failures is incomplete")
	}
	r.Reload.Err, r.SelfTest = "needs echogate", true
	if r.incomplete() {
		t.Fatal("a skipped reload in -self-test makes the report incomplete")
	}
}
