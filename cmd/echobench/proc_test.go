package main

import (
	"os"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int64
		ok       bool
	}{
		{"plain", "1234 (echogate) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 8 0 100 0", 325, true},
		{"spaces and parens in name", "99 (a) b (c)) R 1 2 3 4 5 6 7 8 9 10 3 4 0 0", 7, true},
		{"no name", "1234 echogate S 1", 0, false},
		{"short", "1234 (x) S 1 2 3", 0, false},
		{"not a number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 1 0", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("parseStatCPU = %d, %v; want %d, ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestParseSchedstat(t *testing.T) {
	if ns, err := parseSchedstat("167601 207379 2\n"); err != nil || ns != 167601 {
		t.Fatalf("parseSchedstat = %d, %v", ns, err)
	}
	if _, err := parseSchedstat(""); err == nil {
		t.Fatal("empty schedstat accepted")
	}
}

func TestParseVmRSS(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"Name:\tx\nVmPeak:\t  10 kB\nVmRSS:\t    1404 kB\nThreads: 1\n", 1404 * 1024, true},
		{"Name:\tx\n", 0, false},
		{"VmRSS:\t12 MB\n", 0, false},
	} {
		got, err := parseVmRSS(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseVmRSS(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestProcSelf(t *testing.T) {
	pid := os.Getpid()
	a, err := cpuNS(pid)
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := range 20_000_000 {
		x += i
	}
	b, _ := cpuNS(pid)
	if b <= a {
		t.Fatalf("cpu time did not grow: %d then %d (x=%d)", a, b, x)
	}
	if rss, err := rssBytes(pid); err != nil || rss <= 0 {
		t.Fatalf("rssBytes = %d, %v", rss, err)
	}
	if n, err := fdCount(pid); err != nil || n < 3 {
		t.Fatalf("fdCount = %d, %v", n, err)
	}
}
