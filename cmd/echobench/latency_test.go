package main

import (
	"slices"
	"strings"
	"testing"
)

func pointByKey(t *testing.T, key string) point {
	t.Helper()
	i := slices.IndexFunc(points, func(p point) bool { return p.Key == key })
	if i < 0 {
		t.Fatalf("no point %q", key)
	}
	return points[i]
}

func TestModeArgs(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want string
		open bool
	}{
		{"tcp50", "", false},
		{"window16", "-window 16", false},
		{"udp8x16", "", false},
		{"udp8x16gso", "-gso", false},
		{"open50", "-rate 10000", true},
		{"open90", "-rate 18000", true},
	} {
		p := pointByKey(t, tc.key)
		if got := strings.Join(p.modeArgs(20000), " "); got != tc.want || p.openLoop() != tc.open {
			t.Errorf("%s: modeArgs %q, openLoop %v; want %q, %v", tc.key, got, p.openLoop(), tc.want, tc.open)
		}
	}
	if p := pointByKey(t, "udp8x16"); p.Conns != 8 || p.Pipeline != 16 || p.Proto != "udp" {
		t.Errorf("udp8x16 is %+v", p)
	}
}

func TestOpenLoopRows(t *testing.T) {
	open := pointResult{point: pointByKey(t, "open50"),
		C:        side{Server: "C", RoundTrips: 1, Runs: []run{{P50us: 10, P99us: 100, P999us: 300}, {P50us: 30, P99us: 90, P999us: 200}, {P50us: 20, P99us: 80, P999us: 100}}},
		Echogate: side{Server: "echogate", RoundTrips: 1, Runs: []run{{P50us: 20, P99us: 99, P999us: 150}}}}
	open.C.latencyMedians()
	open.Echogate.latencyMedians()
	if got := latencyCell(open.point, &open.C); got != "20/90/200" {
		t.Errorf("C latency cell %q, want the medians 20/90/200", got)
	}
	if got := latencyCell(points[0], &open.C); got != "-" {
		t.Errorf("closed-loop latency cell %q, want -", got)
	}
	if got := openLoopNote(&report{Points: []pointResult{open}}); !strings.HasSuffix(got, "open50 1.10") {
		t.Errorf("note %q, want the p99 ratio open50 1.10", got)
	}
}

// TestMedian: the middle value, the upper one of an even count, and the input left as it was (its order is
// the rounds' order, printed after the median).
func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{1545, 65, 64, 48, 68}, 65},
		{[]float64{4, 1, 3, 2}, 3},
	} {
		in := slices.Clone(tc.in)
		if got := median(in); got != tc.want || !slices.Equal(in, tc.in) {
			t.Errorf("median(%v) = %v, input now %v; want %v, input unchanged", tc.in, got, in, tc.want)
		}
	}
}
