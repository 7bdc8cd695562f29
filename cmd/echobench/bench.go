package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"echogate/internal/procstat"
)

// serverSpec says how to start one of the two compared servers.
type serverSpec struct {
	name     string
	bin      string
	echogate bool // false: the C loop's flags
}

// listenArgv returns the command that serves TCP and UDP on 127.0.0.1:port.
func (s serverSpec) listenArgv(port int) []string {
	if !s.echogate {
		return []string{s.bin, "-p", strconv.Itoa(port), "-u"}
	}
	p := strconv.Itoa(port)
	return []string{s.bin, "run", "-listen", "tcp://127.0.0.1:" + p, "-listen", "udp://127.0.0.1:" + p,
		"-log-level", "warn"}
}

// run is one measured load run against one server.
type run struct {
	RPS        float64 `json:"rps"`
	CPUusPerRT float64 `json:"cpu_us_per_rt"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	P999us     float64 `json:"p999_us"`
	Errors     uint64  `json:"errors"`
}

// side is what one server did at one point, over all its rounds.
type side struct {
	Server     string  `json:"server"`
	RPS        float64 `json:"rps"`           // round trips over load seconds, all rounds
	CPUusPerRT float64 `json:"cpu_us_per_rt"` // server CPU over round trips, all rounds
	RoundTrips uint64  `json:"round_trips"`
	CPUSeconds float64 `json:"cpu_s"`
	LoadSecs   float64 `json:"load_s"`
	Errors     uint64  `json:"errors"`
	P50us      float64 `json:"p50_us"` // latency: the medians over the runs
	P99us      float64 `json:"p99_us"`
	P999us     float64 `json:"p999_us"`
	ErrSample  string  `json:"error_sample,omitempty"` // echoload's messages about the first errors
	Runs       []run   `json:"runs"`
	Err        string  `json:"error,omitempty"`
}

// add accounts one run.
func (s *side) add(lr loadResult, cpu time.Duration) {
	r := run{RPS: lr.RPS, P50us: lr.P50us, P99us: lr.P99us, P999us: lr.P999us, Errors: lr.Errors}
	if lr.RoundTrips > 0 {
		r.CPUusPerRT = round3(cpu.Seconds() * 1e6 / float64(lr.RoundTrips))
	}
	s.Runs = append(s.Runs, r)
	s.RoundTrips += lr.RoundTrips
	s.CPUSeconds += cpu.Seconds()
	s.LoadSecs += lr.DurationS
	s.Errors += lr.Errors
	if s.LoadSecs > 0 {
		s.RPS = round3(float64(s.RoundTrips) / s.LoadSecs)
	}
	if s.RoundTrips > 0 {
		s.CPUusPerRT = round3(s.CPUSeconds * 1e6 / float64(s.RoundTrips))
	}
	s.latencyMedians()
}

// pointResult is one row of the table.
type pointResult struct {
	point
	C        side    `json:"c"`
	Echogate side    `json:"echogate"`
	Ratio    float64 `json:"ratio"` // echogate CPU per round trip over the C loop's; 0 when unknown
}

// runPoint starts both servers, then runs the load against them in turn, round after round (A B A B).
func runPoint(ctx context.Context, o *options, pt point) pointResult {
	res := pointResult{point: pt}
	sides := [2]*side{&res.C, &res.Echogate}
	var srvs [2]*server
	var ports [2]int
	for i, spec := range o.specs() {
		sides[i].Server = spec.name
		port, err := freePort()
		var argv []string
		var dir string
		if err == nil {
			argv, dir, err = spec.pointArgv(pt, port)
			defer os.RemoveAll(dir)
		}
		if err == nil {
			srvs[i], err = startServer(ctx, spec.name, "0", argv, port)
		}
		if err != nil {
			sides[i].Err = err.Error()
			continue
		}
		ports[i] = port
		defer srvs[i].stop()
	}
	for r := 0; r < o.rounds && ctx.Err() == nil; r++ {
		for i, s := range srvs {
			if s == nil || sides[i].Err != "" {
				continue
			}
			if err := measure(ctx, o, pt, s, ports[i], sides[i]); err != nil {
				sides[i].Err = err.Error()
			}
			progress("%s, round %d/%d, %s: %.0f rt/s, %.3f µs/rt", pt.Name, r+1, o.rounds, s.name,
				sides[i].RPS, sides[i].CPUusPerRT)
		}
	}
	if res.C.CPUusPerRT > 0 && res.Echogate.CPUusPerRT > 0 {
		res.Ratio = round3(res.Echogate.CPUusPerRT / res.C.CPUusPerRT)
	}
	return res
}

// measure runs the load once against s and adds the server CPU it took to sd.
func measure(ctx context.Context, o *options, pt point, s *server, port int, sd *side) error {
	before, err := procstat.CPU(s.pid)
	if err != nil {
		return fmt.Errorf("%s: cpu time: %w", s.name, err)
	}
	args := append(pt.loadArgs(port, o.duration), pt.modeArgs(o.cRate)...)
	lr, diag, err := runEchoload(ctx, o.echoload, args, o.duration+30*time.Second)
	if err != nil {
		return err
	}
	if lr.Errors > 0 && sd.ErrSample == "" {
		sd.ErrSample = diag
	}
	after, err := settledCPU(s.pid)
	if err != nil || !s.alive() {
		return fmt.Errorf("%s: exited during the run: %v; stderr: %s", s.name, err, s.log.tail(5))
	}
	sd.add(lr, after-before)
	return nil
}

// settledCPU waits until pid has finished the work the load left behind (closing connections) and returns
// its CPU time: readings 50 ms apart must differ by under 1 ms, for at most a second.
func settledCPU(pid int) (time.Duration, error) {
	prev, err := procstat.CPU(pid)
	for i := 0; i < 20 && err == nil; i++ {
		time.Sleep(50 * time.Millisecond)
		var now time.Duration
		if now, err = procstat.CPU(pid); err == nil && now-prev < time.Millisecond {
			return now, nil
		}
		prev = now
	}
	return prev, err
}

// progress prints one line about the run so far on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "echobench: "+format+"\n", args...)
}

func round3(v float64) float64 {
	return float64(int64(v*1000+0.5)) / 1000
}
