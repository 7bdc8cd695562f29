package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	loadreport "echogate/cmd/echoload/report"
)

// loadResult is the JSON line echoload prints (see package report).
type loadResult = loadreport.Result

// point is one throughput measurement: a load shape run against both servers.
type point struct {
	Key      string `json:"key"`
	Name     string `json:"name"`
	Proto    string `json:"proto"`
	Conns    int    `json:"conns"`
	Size     int    `json:"size"`
	Pipeline int    `json:"pipeline"`
}

// points are the throughput measurements of a bench run, in order.
var points = append([]point{
	{"tcp1", "tcp 1 conn 64 B", "tcp", 1, 64, 1},
	{"tcp50", "tcp 50 conns 64 B", "tcp", 50, 64, 1},
	{"tcp1000", "tcp 1000 conns 64 B", "tcp", 1000, 64, 1},
	{"pipe16", "tcp 50 conns x16 pipelined 64 B", "tcp", 50, 64, 16},
	{"tcp4k", "tcp 50 conns 4 KiB lines", "tcp", 50, 4096, 1},
	{"udp50", "udp 50 socks 64 B", "udp", 50, 64, 1},
	tcp50Proxy,
}, latencyPoints...)

// loadArgs are the echoload flags of one measured run of p against port.
func (p point) loadArgs(port int, d time.Duration) []string {
	return []string{
		"-addr", fmt.Sprintf("127.0.0.1:%d", port), "-proto", p.Proto, "-conns", strconv.Itoa(p.Conns),
		"-size", strconv.Itoa(p.Size), "-pipeline", strconv.Itoa(p.Pipeline), "-duration", d.String(),
		"-timeout", "2s", "-allow-errors", "-json",
	}
}

// runEchoload runs echoload pinned to CPU 1 with args, bounded to bound, and decodes its JSON line; diag is
// the end of its stderr (its error messages).
func runEchoload(ctx context.Context, bin string, args []string, bound time.Duration) (r loadResult, diag string, err error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	full := pinned("1", append([]string{bin}, args...))
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	diag = lastLines(stderr.String(), 3)
	if r, err = decodeLoad(stdout.Bytes()); err != nil {
		return r, diag, fmt.Errorf("echoload %s: %v (%v); stderr: %s", strings.Join(args, " "), err, runErr, diag)
	}
	return r, diag, nil
}

// decodeLoad decodes the last non-empty line of echoload's output.
func decodeLoad(out []byte) (loadResult, error) {
	var r loadResult
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return r, fmt.Errorf("no output")
	}
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return r, fmt.Errorf("bad output %q: %w", last, err)
	}
	return r, nil
}

// lastLines returns the last n lines of s joined by " | ".
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
