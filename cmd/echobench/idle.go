package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"echogate/internal/procstat"
)

// idleSide is the memory one server needs for idle connections.
type idleSide struct {
	Server       string  `json:"server"`
	Established  int     `json:"established"`
	Lost         int     `json:"lost"`
	RSSBefore    int64   `json:"rss_before"`
	RSSAfter     int64   `json:"rss_after"`
	BytesPerConn float64 `json:"bytes_per_conn"`
	Err          string  `json:"error,omitempty"`
}

// idleResult is the idle-memory point for both servers.
type idleResult struct {
	Conns    int      `json:"conns"`
	C        idleSide `json:"c"`
	Echogate idleSide `json:"echogate"`
}

// measureIdle measures both servers, each started fresh.
func measureIdle(ctx context.Context, o *options) *idleResult {
	res := &idleResult{Conns: o.idleConns}
	specs := o.specs()
	res.C = idleOne(ctx, o, specs[0])
	res.Echogate = idleOne(ctx, o, specs[1])
	return res
}

// idleOne starts a fresh server, reads its RSS, opens the idle connections, waits until the server holds
// them all, and reads its RSS again.
func idleOne(ctx context.Context, o *options, spec serverSpec) idleSide {
	sd := idleSide{Server: spec.name}
	fail := func(err error) idleSide { sd.Err = err.Error(); progress("idle %s: %v", spec.name, err); return sd }
	dir, err := os.MkdirTemp("", "echobench-idle-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	argv := spec.listenArgv(port)
	if spec.echogate {
		if argv, err = idleConfigArgv(spec, dir, port, o.idleConns); err != nil {
			return fail(err)
		}
	}
	s, err := startServer(ctx, spec.name, "0", argv, port)
	if err != nil {
		return fail(err)
	}
	defer s.stop()
	time.Sleep(300 * time.Millisecond)
	if sd.RSSBefore, err = procstat.RSSBytes(s.pid); err != nil {
		return fail(err)
	}
	fds, _ := procstat.FDs(s.pid)
	h, err := startIdleHold(ctx, o, []string{fmt.Sprintf("127.0.0.1:%d", port)})
	if err != nil {
		return fail(err)
	}
	waitFDs(s.pid, fds+h.established, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	sd.RSSAfter, err = procstat.RSSBytes(s.pid)
	lr, herr := h.finish()
	if err != nil || herr != nil {
		return fail(fmt.Errorf("%v %v", err, herr))
	}
	sd.Established, sd.Lost = lr.Established, lr.Lost
	if sd.Established > 0 {
		sd.BytesPerConn = round3(float64(sd.RSSAfter-sd.RSSBefore) / float64(sd.Established))
	}
	progress("idle %s: %d connections, RSS %d -> %d bytes, %.0f B/conn, lost %d", spec.name,
		sd.Established, sd.RSSBefore, sd.RSSAfter, sd.BytesPerConn, sd.Lost)
	return sd
}

// idleConfigArgv writes a one-listener echogate config whose cap fits n connections and returns the command.
func idleConfigArgv(spec serverSpec, dir string, port, n int) ([]string, error) {
	path := filepath.Join(dir, "echogate.toml")
	toml := fmt.Sprintf("[daemon]\nstats_interval = \"0s\"\n\n[[listener]]\nname = \"bench\"\nprotocol = \"tcp\"\n"+
		"address = \"127.0.0.1:%d\"\nmax_conns = %d\nbacklog = 4096\nidle_timeout = \"0s\"\n", port, n+1000)
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		return nil, err
	}
	return []string{spec.bin, "run", "-config", path, "-log-level", "warn"}, nil
}

// waitFDs waits until pid has at least want fds open, or timeout.
func waitFDs(pid, want int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if n, err := procstat.FDs(pid); err != nil || n >= want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// idleHold is an echoload -idle process holding connections open until finish.
type idleHold struct {
	cmd         *exec.Cmd
	stdout      bytes.Buffer
	log         *lineLog
	done        chan struct{}
	established int
}

// idleHoldMax bounds how long echoload holds its idle connections if finish is never called.
const idleHoldMax = 3 * time.Minute

var establishedRE = regexp.MustCompile(`idle: established (\d+) of (\d+)`)

// startIdleHold starts echoload -idle pinned to CPU 1 and waits until its connections are open.
func startIdleHold(ctx context.Context, o *options, addrs []string) (*idleHold, error) {
	args := []string{o.echoload, "-idle", strconv.Itoa(o.idleConns), "-addr", strings.Join(addrs, ","),
		"-duration", idleHoldMax.String(), "-timeout", "5s", "-allow-errors", "-json"}
	full := pinned("1", args)
	h := &idleHold{log: &lineLog{}, done: make(chan struct{})}
	h.cmd = exec.Command(full[0], full[1:]...)
	h.cmd.Stdout, h.cmd.Stderr = &h.stdout, h.log
	if err := h.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start echoload: %w", err)
	}
	go func() { h.cmd.Wait(); close(h.done) }()
	deadline := time.After(2 * time.Minute)
	for seen := 0; ; {
		lines, total := h.log.since(seen)
		seen = total
		for _, l := range lines {
			if m := establishedRE.FindStringSubmatch(l); m != nil {
				h.established, _ = strconv.Atoi(m[1])
				return h, nil
			}
		}
		select {
		case <-h.done:
			return nil, fmt.Errorf("echoload -idle exited early: %s", h.log.tail(3))
		case <-ctx.Done():
			h.finish()
			return nil, ctx.Err()
		case <-deadline:
			h.finish()
			return nil, fmt.Errorf("echoload -idle did not open its connections in time")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// finish ends the hold with SIGTERM (echoload then checks its connections once more and reports), kills it
// after 15 s, and decodes its result.
func (h *idleHold) finish() (loadResult, error) {
	terminate(h.cmd.Process, h.done, 15*time.Second)
	r, err := decodeLoad(h.stdout.Bytes())
	if err != nil {
		return r, fmt.Errorf("echoload -idle: %w; stderr: %s", err, h.log.tail(3))
	}
	return r, nil
}
