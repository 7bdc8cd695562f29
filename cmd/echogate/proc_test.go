package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procUsage is what /proc tells about a running daemon.
type procUsage struct {
	FDs     int           // entries in /proc/PID/fd
	RSSKiB  int64         // VmRSS of /proc/PID/status
	Threads int           // Threads of /proc/PID/status
	CPU     time.Duration // utime+stime of /proc/PID/stat
}

func (u procUsage) String() string {
	return fmt.Sprintf("fds=%d rss=%.1fMiB threads=%d cpu=%.2fs", u.FDs, float64(u.RSSKiB)/1024, u.Threads,
		u.CPU.Seconds())
}

// usage reads the daemon's /proc figures.
func (d *testDaemon) usage() procUsage {
	d.t.Helper()
	u, err := readUsage(d.cmd.Process.Pid)
	if err != nil {
		d.t.Fatal(err)
	}
	return u
}

func readUsage(pid int) (procUsage, error) {
	var u procUsage
	var err error
	if u.FDs, err = procFDs(pid); err != nil {
		return u, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	if u.RSSKiB, err = statusField(string(status), "VmRSS"); err != nil {
		return u, err
	}
	threads, err := statusField(string(status), "Threads")
	if err != nil {
		return u, err
	}
	u.Threads = int(threads)
	u.CPU, err = procCPU(pid)
	return u, err
}

// procFDs counts the open file descriptors of pid.
func procFDs(pid int) (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	return len(entries), nil
}

// statusField returns the first number of the "Key:" line of a /proc/PID/status text (kB for the Vm fields).
func statusField(status, key string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != key {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("/proc status: no %s", key)
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat (100 on Linux).
const clockTicks = 100

// procCPU returns utime+stime of pid.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	ticks, err := statCPUTicks(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// statCPUTicks returns fields 14 (utime) and 15 (stime) of a /proc/PID/stat line added up. The command name
// (field 2) is in parentheses and may hold spaces, so fields are counted from the last ')'.
func statCPUTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, errors.New("too few fields")
	}
	utime, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return 0, err
	}
	stime, err := strconv.ParseInt(f[12], 10, 64)
	if err != nil {
		return 0, err
	}
	return utime + stime, nil
}

// waitFDs waits until the daemon has at most want descriptors open and returns the last count.
func (d *testDaemon) waitFDs(want int, timeout time.Duration) int {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n, err := procFDs(d.cmd.Process.Pid)
		if err != nil {
			d.t.Fatal(err)
		}
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settledUsage is the daemon's usage once its descriptor count holds still for 200 ms: just after start, a
// goroutine off the loop may hold a short-lived descriptor (the netlink socket that reads the host's
// addresses), which a baseline must not count.
func (d *testDaemon) settledUsage() procUsage {
	d.t.Helper()
	u := d.usage()
	for range 25 {
		time.Sleep(200 * time.Millisecond)
		next := d.usage()
		if next.FDs == u.FDs {
			return next
		}
		u = next
	}
	return u
}

func TestProcParsers(t *testing.T) {
	status := "Name:\techogate\nVmPeak:\t  10 kB\nVmRSS:\t   22648 kB\nThreads:\t7\n"
	for _, tc := range []struct {
		key  string
		want int64
		ok   bool
	}{
		{"VmRSS", 22648, true},
		{"Threads", 7, true},
		{"VmSwap", 0, false},
	} {
		got, err := statusField(status, tc.key)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("statusField(%s) = %d, %v; want %d (ok %v)", tc.key, got, err, tc.want, tc.ok)
		}
	}
	stat := "4242 (echo gate) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 7"
	if got, err := statCPUTicks(stat); err != nil || got != 175 {
		t.Errorf("statCPUTicks = %d, %v; want 175", got, err)
	}
	if _, err := statCPUTicks("4242 (x) S 1"); err == nil {
		t.Error("statCPUTicks accepted a short line")
	}
	self, err := readUsage(os.Getpid())
	if err != nil || self.FDs == 0 || self.RSSKiB == 0 || self.Threads == 0 {
		t.Errorf("readUsage(self) = %v, %v", self, err)
	}
}
