package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTick is the length of a /proc/PID/stat clock tick in nanoseconds (USER_HZ is 100 on Linux).
const clockTick = 1e9 / 100

// cpuNS returns the CPU time, in nanoseconds, that process pid has used so far: the sum of the first field
// of /proc/PID/task/*/schedstat (nanosecond resolution), or utime+stime from /proc/PID/stat (10 ms ticks)
// when schedstat cannot be read.
func cpuNS(pid int) (int64, error) {
	if ns, err := schedstatNS(pid); err == nil {
		return ns, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	ticks, err := parseStatCPU(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return ticks * clockTick, nil
}

// schedstatNS sums the on-CPU nanoseconds of every thread of pid.
func schedstatNS(pid int) (int64, error) {
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
		ns, err := parseSchedstat(string(b))
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

// parseSchedstat returns the first field of a schedstat line: nanoseconds spent on the CPU.
func parseSchedstat(s string) (int64, error) {
	f := strings.Fields(s)
	if len(f) < 1 {
		return 0, errors.New("empty schedstat")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// parseStatCPU returns utime+stime (fields 14 and 15, in clock ticks) of a /proc/PID/stat line. The command
// name (field 2) is in parentheses and may hold spaces, so fields are counted from the last ')'.
func parseStatCPU(s string) (int64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
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

// rssBytes returns the resident set size of pid (VmRSS).
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(b))
}

// parseVmRSS finds "VmRSS:   1234 kB" in a /proc/PID/status text and returns it in bytes.
func parseVmRSS(s string) (int64, error) {
	for _, line := range strings.Split(s, "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("odd VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		return kb * 1024, err
	}
	return 0, errors.New("no VmRSS line")
}

// fdCount returns how many file descriptors pid has open.
func fdCount(pid int) (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(fds), err
}
