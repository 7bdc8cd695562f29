package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestHistogramRows(t *testing.T) {
	for _, tc := range []struct {
		name    string
		samples []int64
	}{
		{"one sample", []int64{5000}},
		{"two values", []int64{1000, 1000, 1000, 90_000}},
		{"wide", []int64{10, 200, 3000, 40_000, 500_000, 6_000_000, 70_000_000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := new(histogram)
			for _, v := range tc.samples {
				h.record(v)
			}
			rows := h.rows(histRows)
			var sum uint64
			for i, r := range rows {
				sum += r.count
				if r.bar > histBar || (r.count > 0) != (r.bar > 0) || (i > 0 && r.hi <= rows[i-1].hi) {
					t.Fatalf("row %d %+v of %+v", i, r, rows)
				}
			}
			if len(rows) == 0 || len(rows) > histRows || sum != h.total || rows[len(rows)-1].cum != 100 ||
				rows[0].count == 0 || rows[len(rows)-1].hi < uint64(tc.samples[len(tc.samples)-1]) {
				t.Fatalf("rows %+v: want at most %d, the first one not empty, %d samples, 100%% at the end",
					rows, histRows, h.total)
			}
		})
	}
	if rows := new(histogram).rows(histRows); rows != nil {
		t.Fatalf("rows of an empty histogram: %+v", rows)
	}
}

func TestWriteText(t *testing.T) {
	o := options{addrs: []string{"127.0.0.1:7"}, proto: "tcp", conns: 2, size: 64, window: 16}
	h := new(histogram)
	for range 100 {
		h.record(int64(150 * time.Microsecond))
	}
	var b bytes.Buffer
	writeText(&b, o, result{RoundTrips: 100, RPS: 50, DurationS: 2, Established: 2}, h)
	for _, want := range []string{"tcp 127.0.0.1:7, 2 connections, 64 B lines, sliding window of 16, 2.00 s",
		"round trips  100 (50.0/s", "p50 149.5 µs", "100.0%  ████"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	o = options{addrs: []string{"127.0.0.1:7"}, proto: "udp", count: 3}
	r := result{DurationS: 2, Ping: pingSummary(3, []time.Duration{time.Millisecond, 3 * time.Millisecond})}
	writeText(&b, o, r, new(histogram))
	want := "--- 127.0.0.1:7 udp echo statistics ---\n3 probes sent, 2 echoed, 33.3% loss, time 2.00 s\n" +
		"rtt min/avg/max/mdev = 1.000/2.000/3.000/1.000 ms\n"
	if b.String() != want {
		t.Errorf("ping summary\n%s\nwant\n%s", b.String(), want)
	}
}
