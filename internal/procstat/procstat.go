// Package procstat reads what Linux's /proc tells about a process: CPU time, resident memory, threads and open
// file descriptors. echobench measures the daemon with it and the integration tests check bounds on it.
package procstat

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ClockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat (100 on Linux).
const ClockTicks = 100

// Usage is a process's figures at one moment.
type Usage struct {
	FDs     int           // entries in /proc/PID/fd
	RSSKiB  int64         // VmRSS of /proc/PID/status
	Threads int           // Threads of /proc/PID/status
	CPU     time.Duration // on-CPU time so far (see CPU)
}

// String formats u on one line for a test log or a report.
func (u Usage) String() string {
	return fmt.Sprintf("fds=%d rss=%.1fMiB threads=%d cpu=%.2fs", u.FDs, float64(u.RSSKiB)/1024, u.Threads,
		u.CPU.Seconds())
}

// Read returns the Usage of pid.
func Read(pid int) (Usage, error) {
	var u Usage
	var err error
	if u.FDs, err = FDs(pid); err != nil {
		return u, err
	}
	status, err := readStatus(pid)
	if err != nil {
		return u, err
	}
	if u.RSSKiB, err = StatusField(status, "VmRSS"); err != nil {
		return u, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	threads, err := StatusField(status, "Threads")
	if err != nil {
		return u, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	u.Threads = int(threads)
	u.CPU, err = CPU(pid)
	return u, err
}

// FDs returns how many file descriptors pid has open.
func FDs(pid int) (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	return len(entries), nil
}

// RSSBytes returns the resident set size of pid (VmRSS) in bytes.
func RSSBytes(pid int) (int64, error) {
	return statusBytes(pid, "VmRSS")
}

// PeakRSSBytes returns the peak resident set size of pid (VmHWM) in bytes.
func PeakRSSBytes(pid int) (int64, error) {
	return statusBytes(pid, "VmHWM")
}

func statusBytes(pid int, key string) (int64, error) {
	status, err := readStatus(pid)
	if err != nil {
		return 0, err
	}
	kib, err := StatusField(status, key)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return kib * 1024, nil
}

func readStatus(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	return string(b), err
}

// StatusField returns the number of the "Key:" line of a /proc/PID/status text: a plain count (Threads) or a
// size in kB (the Vm fields); any other unit is an error.
func StatusField(status, key string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != key {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 || len(f) > 2 || (len(f) == 2 && f[1] != "kB") {
			return 0, fmt.Errorf("odd %s line %q", key, line)
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("no %s line", key)
}

// CPU returns the CPU time pid has used so far: the sum of the first field of /proc/PID/task/*/schedstat
// (nanosecond resolution), or utime+stime from /proc/PID/stat (10 ms ticks) when schedstat cannot be read.
func CPU(pid int) (time.Duration, error) {
	if ns, err := SchedstatNS(pid); err == nil {
		return time.Duration(ns), nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	ticks, err := StatCPUTicks(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ticks) * time.Second / ClockTicks, nil
}

// SchedstatNS sums the on-CPU nanoseconds of every thread of pid.
func SchedstatNS(pid int) (int64, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var sum int64
	read := 0
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread exited meanwhile
		}
		if err != nil {
			return 0, err
		}
		ns, err := ParseSchedstat(string(b))
		if err != nil {
			return 0, fmt.Errorf("%s/%s/schedstat: %w", dir, t.Name(), err)
		}
		sum += ns
		read++
	}
	if read == 0 {
		return 0, fmt.Errorf("%s: no thread", dir)
	}
	return sum, nil
}

// ParseSchedstat returns the first field of a schedstat line: nanoseconds spent on the CPU.
func ParseSchedstat(s string) (int64, error) {
	f := strings.Fields(s)
	if len(f) < 1 {
		return 0, errors.New("empty schedstat")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// StatCPUTicks returns utime+stime (fields 14 and 15, in clock ticks) of a /proc/PID/stat line. The command
// name (field 2) is in parentheses and may hold spaces, so fields are counted from the last ')'.
func StatCPUTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields, want at least 15", len(f)+2)
	}
	utime, err1 := strconv.ParseInt(f[14-3], 10, 64)
	stime, err2 := strconv.ParseInt(f[15-3], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return utime + stime, nil
}
