package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sync"
	"syscall"

	"echogate/cmd/echoload/report"
)

// result is the JSON line echoload prints with -json (see package report).
type result = report.Result

// run executes one ping, load or idle run, prints its result (text, or one JSON line with -json) and
// returns the exit status.
func run(ctx context.Context, o options, stdout, stderr io.Writer) int {
	if err := raiseNofile(); err != nil {
		fmt.Fprintln(stderr, "echoload: warning:", err)
	}
	d := &diag{w: stderr}
	var res result
	h := new(histogram)
	switch {
	case o.count > 0:
		probes := stdout
		if o.json {
			probes = stderr
		}
		res = runPing(ctx, o, probes)
	case o.idle > 0:
		res = runIdle(ctx, o, d)
	default:
		res, h = runLoad(ctx, o, d)
	}
	if !o.json {
		writeText(stdout, o, res, h)
	} else if line, err := json.Marshal(res); err != nil {
		fmt.Fprintln(stderr, "echoload:", err)
		return 2
	} else {
		fmt.Fprintf(stdout, "%s\n", line)
	}
	if res.Errors > 0 && !o.allowErrors {
		return 1
	}
	return 0
}

// setRates fills the per-second figures and latency percentiles of r from its counts.
func setRates(r *result, h *histogram) {
	if r.DurationS > 0 {
		r.RPS = round(float64(r.RoundTrips)/r.DurationS, 1)
		r.MBperS = round(float64(r.RoundTrips)*float64(r.Size)/r.DurationS/1e6, 3)
	}
	r.DurationS = round(r.DurationS, 6)
	r.P50us = round(float64(h.quantile(0.50))/1e3, 1)
	r.P99us = round(float64(h.quantile(0.99))/1e3, 1)
	r.P999us = round(float64(h.quantile(0.999))/1e3, 1)
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// raiseNofile raises the soft RLIMIT_NOFILE to the hard limit, so that thousands of connections fit.
func raiseNofile() error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if rl.Cur == rl.Max {
		return nil
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("setrlimit nofile %d: %w", rl.Max, err)
	}
	return nil
}

// diag prints the first few error messages of a run to stderr and counts the rest.
type diag struct {
	mu      sync.Mutex
	w       io.Writer
	printed int
}

// maxDiag is how many error messages one run prints.
const maxDiag = 10

// printf prints one message unless maxDiag were printed already.
func (d *diag) printf(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.printed++
	if d.printed <= maxDiag {
		fmt.Fprintf(d.w, "echoload: "+format+"\n", args...)
	} else if d.printed == maxDiag+1 {
		fmt.Fprintln(d.w, "echoload: further errors are counted, not printed")
	}
}

// always prints one message whatever the count; it does not count toward maxDiag.
func (d *diag) always(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.w, "echoload: "+format+"\n", args...)
}
