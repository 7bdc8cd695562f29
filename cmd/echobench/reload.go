package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"echogate/internal/procstat"
)

// reloadResult is how long echogate took to reload a big config with many open connections.
type reloadResult struct {
	Listeners   int    `json:"listeners"`
	Established int    `json:"established"`
	Lost        int    `json:"lost"`                 // connections closed during or after the reload
	Took        string `json:"took,omitempty"`       // the daemon's took= (whole reload), "" = not found
	LoopPause   string `json:"loop_pause,omitempty"` // the daemon's loop_pause= (time the loop stood still)
	Line        string `json:"log_line,omitempty"`   // the log line both came from
	Err         string `json:"error,omitempty"`
}

// reloadLogWait bounds the wait for the daemon's reload log line.
const reloadLogWait = 10 * time.Second

// measureReload starts echogate with o.reloadListeners TCP listeners, opens o.idleConns idle connections
// spread over them, rewrites the config (a new max_line on every listener), sends SIGHUP and reads the
// reload's took= and loop_pause= from the daemon's log.
func measureReload(ctx context.Context, o *options) *reloadResult {
	res := &reloadResult{Listeners: o.reloadListeners}
	if o.selfTest {
		res.Err = "needs echogate (skipped in -self-test)"
		return res
	}
	if err := reloadRun(ctx, o, res); err != nil {
		res.Err = err.Error()
		progress("reload: %v", err)
	}
	return res
}

func reloadRun(ctx context.Context, o *options, res *reloadResult) error {
	ports, err := freeTCPPorts(o.reloadListeners)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "echobench-reload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "echogate.toml")
	if err := writeAtomic(path, reloadConfig(ports, 4096)); err != nil {
		return err
	}
	argv := []string{o.echogate, "run", "-config", path, "-log-level", "info"}
	s, err := startServer(ctx, "echogate", "0", argv, ports[0])
	if err != nil {
		return err
	}
	defer s.stop()
	fds, _ := procstat.FDs(s.pid)
	addrs := make([]string, len(ports))
	for i, p := range ports {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	h, err := startIdleHold(ctx, o, addrs)
	if err != nil {
		return err
	}
	waitFDs(s.pid, fds+h.established, 10*time.Second)
	_, mark := s.log.since(0)
	if err := writeAtomic(path, reloadConfig(ports, 2048)); err == nil {
		err = s.cmd.Process.Signal(syscall.SIGHUP)
	}
	if err == nil {
		res.Line, err = waitReloadLine(ctx, s.log, mark)
		res.Took, res.LoopPause = logToken(res.Line, "took"), logToken(res.Line, "loop_pause")
		time.Sleep(500 * time.Millisecond) // let a dropped connection show before the final check
	}
	lr, herr := h.finish()
	res.Established, res.Lost = lr.Established, lr.Lost
	if !s.alive() {
		return fmt.Errorf("echogate exited: %s", s.log.tail(5))
	}
	progress("reload: %d listeners, %d connections: took=%s loop_pause=%s, lost %d", res.Listeners,
		res.Established, orNA(res.Took), orNA(res.LoopPause), res.Lost)
	return errors.Join(err, herr)
}

// reloadConfig is a config of one TCP listener per port, all with maxLine.
func reloadConfig(ports []int, maxLine int) string {
	var b strings.Builder
	b.WriteString("[daemon]\nstats_interval = \"0s\"\n")
	for i, p := range ports {
		fmt.Fprintf(&b, "\n[[listener]]\nname = \"bench-%03d\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:%d\"\n"+
			"max_line = %d\nmax_conns = 10000\nbacklog = 1024\nidle_timeout = \"0s\"\n", i, p, maxLine)
	}
	return b.String()
}

// writeAtomic writes data to a temporary file beside path and renames it over path, as editors do.
func writeAtomic(path, data string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// waitReloadLine waits for the first log line after line number mark that tells a reload's duration.
func waitReloadLine(ctx context.Context, log *lineLog, mark int) (string, error) {
	deadline := time.Now().Add(reloadLogWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		lines, _ := log.since(mark)
		for _, l := range lines {
			if isReloadLine(l) {
				return l, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("no reload line with took= or loop_pause= in the log within %v (last: %s)",
		reloadLogWait, log.tail(2))
}

// isReloadLine tells whether a log line reports a reload's duration.
func isReloadLine(l string) bool {
	return strings.Contains(l, "reload") && (logToken(l, "took") != "" || logToken(l, "loop_pause") != "")
}

// logToken returns the value of key=value in a log line ("" if absent), without quotes.
func logToken(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}
