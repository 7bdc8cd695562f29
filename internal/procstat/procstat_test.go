package procstat

import (
	"os"
	"testing"
)

func TestStatCPUTicks(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int64
		ok       bool
	}{
		{"plain", "1234 (echogate) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 8 0 100 0", 325, true},
		{"spaces in name", "4242 (echo gate) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 7", 175, true},
		{"spaces and parens in name", "99 (a) b (c)) R 1 2 3 4 5 6 7 8 9 10 3 4 0 0", 7, true},
		{"no name", "1234 echogate S 1", 0, false},
		{"short", "1234 (x) S 1 2 3", 0, false},
		{"not a number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 1 0", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := StatCPUTicks(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("StatCPUTicks = %d, %v; want %d, ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestParseSchedstat(t *testing.T) {
	if ns, err := ParseSchedstat("167601 207379 2\n"); err != nil || ns != 167601 {
		t.Fatalf("ParseSchedstat = %d, %v", ns, err)
	}
	if _, err := ParseSchedstat(""); err == nil {
		t.Fatal("empty schedstat accepted")
	}
}

func TestStatusField(t *testing.T) {
	status := "Name:\techogate\nVmPeak:\t  10 kB\nVmRSS:\t   22648 kB\nThreads:\t7\nVmSwap:\t12 MB\n"
	for _, tc := range []struct {
		key  string
		want int64
		ok   bool
	}{
		{"VmRSS", 22648, true},
		{"Threads", 7, true},
		{"VmSwap", 0, false}, // not kB
		{"VmHWM", 0, false},  // absent
		{"Name", 0, false},   // not a number
	} {
		got, err := StatusField(status, tc.key)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("StatusField(%s) = %d, %v; want %d (ok %v)", tc.key, got, err, tc.want, tc.ok)
		}
	}
}

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	a, err := CPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := range 20_000_000 {
		x += i
	}
	b, _ := CPU(pid)
	if b <= a {
		t.Fatalf("cpu time did not grow: %d then %d (x=%d)", a, b, x)
	}
	u, err := Read(pid)
	if err != nil || u.FDs < 3 || u.RSSKiB <= 0 || u.Threads <= 0 {
		t.Fatalf("Read(self) = %v, %v", u, err)
	}
	if peak, err := PeakRSSBytes(pid); err != nil || peak < u.RSSKiB*1024/2 {
		t.Fatalf("PeakRSSBytes = %d, %v (rss %d KiB)", peak, err, u.RSSKiB)
	}
}
