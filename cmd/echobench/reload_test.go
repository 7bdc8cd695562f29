package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogToken(t *testing.T) {
	line := `time=2026-11-23T20:00:00Z level=INFO msg=reload result=ok added=0 kept=100 connections=10000 took=5.110009ms loop_pause="708.697µs"`
	for _, tc := range []struct{ key, want string }{
		{"took", "5.110009ms"},
		{"loop_pause", "708.697µs"},
		{"connections", "10000"},
		{"msg", "reload"},
		{"missing", ""},
		{"ok", ""},
	} {
		if got := logToken(line, tc.key); got != tc.want {
			t.Errorf("logToken(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestIsReloadLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"level=INFO msg=reload took=1ms loop_pause=2µs", true},
		{"level=INFO msg=reload loop_pause=2µs", true},
		{"INFO reload took=3ms", true},
		{"level=INFO msg=\"reload: listener\" listener=bench-001 action=update", false},
		{"level=INFO msg=stats took=1ms", false},
	} {
		if got := isReloadLine(tc.line); got != tc.want {
			t.Errorf("isReloadLine(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

func TestWaitReloadLine(t *testing.T) {
	l := &lineLog{}
	fmt.Fprintf(l, "msg=reload took=1ms (an old one)\n")
	_, mark := l.since(0)
	go func() {
		time.Sleep(50 * time.Millisecond)
		fmt.Fprintf(l, "msg=\"reload: listener\" name=a\nmsg=reload took=2ms loop_pause=1ms\n")
	}()
	line, err := waitReloadLine(context.Background(), l, mark)
	if err != nil || logToken(line, "took") != "2ms" {
		t.Fatalf("waitReloadLine = %q, %v", line, err)
	}
}

func TestReloadConfig(t *testing.T) {
	toml := reloadConfig([]int{20001, 20002, 20003}, 2048)
	if n := strings.Count(toml, "[[listener]]"); n != 3 {
		t.Fatalf("%d listeners, want 3:\n%s", n, toml)
	}
	for _, want := range []string{`name = "bench-002"`, `address = "127.0.0.1:20003"`, "max_line = 2048"} {
		if !strings.Contains(toml, want) {
			t.Errorf("config lacks %q", want)
		}
	}
	path := filepath.Join(t.TempDir(), "x.toml")
	if err := writeAtomic(path, toml); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != toml {
		t.Fatal("writeAtomic wrote something else")
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatal("writeAtomic left its temporary file")
	}
}

func TestLineLog(t *testing.T) {
	l := &lineLog{}
	fmt.Fprint(l, "a\nb")
	fmt.Fprint(l, "c\nd\n")
	lines, total := l.since(0)
	if strings.Join(lines, ",") != "a,bc,d" || total != 3 {
		t.Fatalf("since(0) = %q, %d", lines, total)
	}
	if lines, _ := l.since(2); strings.Join(lines, ",") != "d" {
		t.Fatalf("since(2) = %q", lines)
	}
	for i := range maxLines + 10 {
		fmt.Fprintf(l, "line %d\n", i)
	}
	lines, total = l.since(total)
	if total != 3+maxLines+10 || len(lines) == 0 || lines[len(lines)-1] != fmt.Sprintf("line %d", maxLines+9) {
		t.Fatalf("after many lines: %d kept, total %d", len(lines), total)
	}
	if tail := l.tail(2); tail != fmt.Sprintf("line %d | line %d", maxLines+8, maxLines+9) {
		t.Fatalf("tail = %q", tail)
	}
}

func TestFreePorts(t *testing.T) {
	p, err := freePort()
	if err != nil || p <= 0 {
		t.Fatalf("freePort = %d, %v", p, err)
	}
	ports, err := freeTCPPorts(5)
	if err != nil || len(ports) != 5 {
		t.Fatalf("freeTCPPorts = %v, %v", ports, err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p < freePortLow || p >= freePortHigh {
			t.Fatalf("port %d repeated or out of range in %v", p, ports)
		}
		seen[p] = true
	}
}
