package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The spinner's stop ends every process it started, the busy shell included.
func TestSpinCPU0Stops(t *testing.T) {
	stop, err := spinCPU0(20 * time.Second)
	if err != nil {
		t.Skip(err)
	}
	time.Sleep(100 * time.Millisecond)
	stop()
	time.Sleep(100 * time.Millisecond)
	entries, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil || !strings.Contains(string(cmd), "while :; do :; done") {
			continue
		}
		// Only a spinner whose session is this test's counts: others' are not ours to judge.
		if f := strings.Fields(string(stat)); len(f) > 5 && f[5] == sessionOf(me) {
			t.Fatalf("spinner %s still running after stop", e.Name())
		}
	}
}

// sessionOf returns the session id of pid, from /proc/PID/stat.
func sessionOf(pid string) string {
	stat, _ := os.ReadFile("/proc/" + pid + "/stat")
	if f := strings.Fields(string(stat)); len(f) > 5 {
		return f[5]
	}
	return ""
}
