package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// latencyPoints are the points of the second speed round, run after the others: a sliding window, where the
// server sees reads of uneven sizes; UDP with several datagrams of one peer in each batch, written one by
// one or, as QUIC stacks send, as one UDP_SEGMENT run per batch (echoload -gso); and latency under
// an open-loop load at half and nine tenths of the C loop's closed-loop rate (50 connections).
var latencyPoints = []point{
	{"window16", "tcp 50 conns window of 16 64 B", "tcp", 50, 64, 1},
	{"udp8x16", "udp 8 socks x16 in flight 64 B", "udp", 8, 64, 16},
	{"udp8x16gso", "udp 8 socks x16, sent as GSO runs", "udp", 8, 64, 16},
	{"open50", "tcp 50 conns open loop 50% of C", "tcp", 50, 64, 1},
	{"open90", "tcp 50 conns open loop 90% of C", "tcp", 50, 64, 1},
}

// pointMode is how a point's load differs from a closed loop of Pipeline lines at a time.
type pointMode struct {
	window  int     // lines kept in flight as a sliding window
	rateOfC float64 // open loop at this fraction of the C loop's rate
	gso     bool    // UDP: each batch is sent as one UDP_SEGMENT message
}

var pointModes = map[string]pointMode{
	"window16":   {window: 16},
	"udp8x16gso": {gso: true},
	"open50":     {rateOfC: 0.5},
	"open90":     {rateOfC: 0.9},
}

// openLoop tells whether the point sends at a fixed rate.
func (p point) openLoop() bool { return pointModes[p.Key].rateOfC > 0 }

// modeArgs are the echoload flags of the point's mode; cRate is the C loop's closed-loop rate.
func (p point) modeArgs(cRate float64) []string {
	m := pointModes[p.Key]
	switch {
	case m.window > 0:
		return []string{"-window", strconv.Itoa(m.window)}
	case m.rateOfC > 0:
		return []string{"-rate", strconv.FormatFloat(m.rateOfC*cRate, 'f', 0, 64)}
	case m.gso:
		return []string{"-gso"}
	}
	return nil
}

// calibrationKey is the point whose C loop rate the open-loop points are a fraction of.
const calibrationKey = "tcp50"

// cLoopRate returns the C loop's round trips per second at the calibration point: from this run's result
// when the point ran, else from one run of its own.
func cLoopRate(ctx context.Context, o *options, rep *report) (float64, error) {
	for _, p := range rep.Points {
		if p.Key == calibrationKey && p.C.RPS > 0 {
			return p.C.RPS, nil
		}
	}
	i := slices.IndexFunc(points, func(p point) bool { return p.Key == calibrationKey })
	c := o.specs()[0]
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	srv, err := startServer(ctx, c.name, "0", c.listenArgv(port), port)
	if err != nil {
		return 0, err
	}
	defer srv.stop()
	var sd side
	if err := measure(ctx, o, points[i], srv, port, &sd); err != nil {
		return 0, err
	}
	progress("open loop: the C loop's rate at %s is %.0f rt/s", points[i].Name, sd.RPS)
	if sd.RPS <= 0 {
		return 0, fmt.Errorf("calibration: the C loop made no round trips")
	}
	return sd.RPS, nil
}

// latencyCell formats a side's median p50/p99/p999 over its runs, for the open-loop points.
func latencyCell(p point, s *side) string {
	if !p.openLoop() || len(s.Runs) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f/%.0f/%.0f", s.P50us, s.P99us, s.P999us)
}

// median is the middle value of v (the upper one of an even count), 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// latencyMedians sets the side's p50, p99 and p999 to the medians over its runs.
func (s *side) latencyMedians() {
	med := func(f func(run) float64) float64 {
		v := make([]float64, len(s.Runs))
		for i, r := range s.Runs {
			v[i] = f(r)
		}
		return median(v)
	}
	if len(s.Runs) > 0 {
		s.P50us = med(func(r run) float64 { return r.P50us })
		s.P99us = med(func(r run) float64 { return r.P99us })
		s.P999us = med(func(r run) float64 { return r.P999us })
	}
}

// openLoopNote explains the latency columns and gives echogate's p99 over the C loop's at each open-loop
// point; empty when none ran.
func openLoopNote(r *report) string {
	var parts []string
	for _, p := range r.Points {
		if p.openLoop() && p.C.P99us > 0 && p.Echogate.P99us > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", p.Key, p.Echogate.P99us/p.C.P99us))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "open loop: latency from each line's due time, median of the rounds; p99 echogate / C: " +
		strings.Join(parts, ", ")
}
