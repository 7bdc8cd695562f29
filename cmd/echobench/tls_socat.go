package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"echogate/internal/procstat"
)

// The reference the issue asks for beside the two Go servers: `socat OPENSSL-LISTEN` (OpenSSL, a process
// forked per connection) in front of the C loop, both pinned to CPU 0. Its CPU per round trip is socat's
// with that of its children, which /proc/PID/stat counts once they are reaped, plus the C loop's.

// measureSocat runs the TLS ping load once against socat in front of the C loop.
func (b *tlsBench) measureSocat(ctx context.Context) *tlsSide {
	sd := &tlsSide{Server: "socat + C loop"}
	fail := func(err error) *tlsSide { sd.Err = err.Error(); return sd }
	socat, err := exec.LookPath("socat")
	if err != nil {
		return fail(fmt.Errorf("socat is not installed"))
	}
	ports, err := freeTCPPorts(1)
	if err != nil {
		return fail(err)
	}
	cport, err := freePort()
	if err != nil {
		return fail(err)
	}
	c, err := startServer(ctx, "C", "0", serverSpec{bin: b.o.cbaseline}.listenArgv(cport), cport)
	if err != nil {
		return fail(err)
	}
	defer c.stop()
	s, err := startServer(ctx, "socat", "0", []string{socat,
		fmt.Sprintf("OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,cert=%s,key=%s,verify=0", ports[0], b.cert, b.key),
		fmt.Sprintf("TCP:127.0.0.1:%d", cport)}, ports[0])
	if err != nil {
		return fail(err)
	}
	defer s.stop()
	time.Sleep(300 * time.Millisecond) // the readiness probe's child ends
	before, err := socatCPU(s.pid, c.pid)
	if err != nil {
		return fail(err)
	}
	lr, err := b.load(ctx, map[string]string{"mode": "ping", "addr": fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"conns": fmt.Sprint(tlsConns), "size": fmt.Sprint(tlsLineBytes), "duration": b.o.duration.String()})
	if err != nil {
		return fail(err)
	}
	time.Sleep(time.Second) // the children exit and are reaped
	after, err := socatCPU(s.pid, c.pid)
	if err != nil {
		return fail(err)
	}
	sd.RoundTrips, sd.Errors, sd.P99us = lr.Done, lr.Errors, lr.P99us
	if lr.Done > 0 {
		sd.CPUusPerRT = round3((after - before).Seconds() * 1e6 / float64(lr.Done))
		sd.RunsUsPerRT = []float64{sd.CPUusPerRT}
	}
	progress("tls reference, %s: %.3f µs/rt", sd.Server, sd.CPUusPerRT)
	return sd
}

// socatCPU is socat's CPU time with its reaped children's plus the C loop's.
func socatCPU(socat, loop int) (time.Duration, error) {
	s, err := processCPU(socat, true)
	if err != nil {
		return 0, err
	}
	c, err := procstat.CPU(loop)
	return s + c, err
}

// processCPU is the CPU time of process pid from /proc/PID/stat (clock ticks of 10 ms), its threads that have
// ended included, and with children its reaped children's. The TLS points read it rather than the
// per-thread schedstat of procstat.CPU, because echogate ends a thread with each handshake.
func processCPU(pid int, children bool) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// the fields after the command name, which is in parentheses: utime stime cutime cstime are 12..15
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 16 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	fields := f[11:13]
	if children {
		fields = f[11:15]
	}
	var ticks int64
	for _, s := range fields {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
