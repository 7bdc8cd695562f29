package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"time"
)

// tlsIsolation is the p99 of plain round trips, quiet and under handshake floods: the medians over the
// rounds, each round measuring every condition once, one after the other.
type tlsIsolation struct {
	QuietP99us     float64          `json:"quiet_p99_us"`
	CappedP99us    float64          `json:"capped_p99_us"` // while the TLS listener takes tlsFloodRate handshakes/s
	FloodP99us     float64          `json:"flood_p99_us"`  // while it takes as many as tlsHSClients clients can do
	ChurnP99us     float64          `json:"churn_p99_us"`  // while the plain listener takes tlsFloodRate plain connections/s
	RefQuietP99us  float64          `json:"ref_quiet_p99_us"`
	RefFloodP99us  float64          `json:"ref_flood_p99_us"` // the C loop beside the Go server under the same flood
	CappedDoneRate float64          `json:"capped_handshakes_per_s"`
	RealTime       bool             `json:"pinger_real_time"` // the pinger ran at real-time priority
	Rounds         []isolationRound `json:"rounds"`
	Err            string           `json:"error,omitempty"`
}

// isolationRound is one round's p99s, µs. A quiet p99 of 3 s moves by a factor of several from one run to
// the next on a shared machine, so each flood is compared with the quiet run just before it, and the point
// reports medians over the rounds.
type isolationRound struct {
	Quiet    float64 `json:"quiet_p99_us"`
	Capped   float64 `json:"capped_p99_us"`
	Flood    float64 `json:"flood_p99_us"`
	Churn    float64 `json:"churn_p99_us"`
	RefQuiet float64 `json:"ref_quiet_p99_us"`
	RefFlood float64 `json:"ref_flood_p99_us"`
}

// The pinger of the isolation point is the C client bin/ping-c (cmd/echoload/cbaseline/ping.c) on the load
// CPU, at real-time priority (chrt -f) where that is allowed. On a 2-core machine it shares that CPU with the
// handshake flood's clients, and a pinger at their priority measured mostly its own wait behind them: with a
// Go pinger, perf sched showed echogate's loop thread runnable and waiting over 0.3 ms once in 2 s of a
// 200 handshakes/s flood, and the pinger's threads hundreds of times. A real-time C pinger takes the CPU at
// once and costs the flood little, so what it measures is the server.

// isolation measures the plain p99 of echogate quiet, under handshake floods on its TLS listener and under as
// many plain connections a second on the plain listener, and the same of the C loop beside the Go server.
func (b *tlsBench) isolation(ctx context.Context) *tlsIsolation {
	b.realTime = realTimeAllowed()
	iso := &tlsIsolation{RealTime: b.realTime}
	eg, err := b.start(ctx, true)
	if err != nil {
		iso.Err = err.Error()
		return iso
	}
	defer eg.stop()
	iso.Rounds = make([]isolationRound, max(b.o.rounds, 1))
	err = b.echogateRounds(ctx, iso.Rounds)
	eg.stop()
	if err != nil {
		iso.Err = err.Error()
		return iso
	}
	cport, err := freePort()
	if err != nil {
		iso.Err = err.Error()
		return iso
	}
	c, err := startServer(ctx, "C", "0", serverSpec{bin: b.o.cbaseline}.listenArgv(cport), cport)
	if err != nil {
		iso.Err = err.Error()
		return iso
	}
	defer c.stop()
	gs, err := b.start(ctx, false)
	if err != nil {
		iso.Err = err.Error()
		return iso
	}
	defer gs.stop()
	if err := b.referenceRounds(ctx, fmt.Sprintf("127.0.0.1:%d", cport), iso.Rounds); err != nil {
		iso.Err = err.Error()
	}
	iso.medians()
	progress("tls isolation: %+v", *iso)
	return iso
}

// echogateRounds measures, in each round, echogate's plain p99 quiet, under the capped and the unbounded
// handshake flood, and under as many plain connections a second.
func (b *tlsBench) echogateRounds(ctx context.Context, rounds []isolationRound) error {
	plain := fmt.Sprintf("127.0.0.1:%d", b.plainPort)
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", b.tlsPort)
	for i := range rounds {
		r := &rounds[i]
		var err error
		if r.Quiet, err = b.plainP99(ctx, plain, "", 0, false); err == nil {
			r.Capped, err = b.plainP99(ctx, plain, tlsAddr, tlsFloodRate, false)
		}
		if err == nil {
			r.Flood, err = b.plainP99(ctx, plain, tlsAddr, -1, false)
		}
		if err == nil {
			r.Churn, err = b.plainP99(ctx, plain, plain, tlsFloodRate, true)
		}
		if err != nil {
			return err
		}
		progress("tls isolation round %d/%d, echogate: %+v", i+1, len(rounds), *r)
	}
	return nil
}

// referenceRounds measures, in each round, the C loop at cAddr quiet and while the Go server beside it
// takes the unbounded handshake flood.
func (b *tlsBench) referenceRounds(ctx context.Context, cAddr string, rounds []isolationRound) error {
	for i := range rounds {
		r := &rounds[i]
		var err error
		if r.RefQuiet, err = b.plainP99(ctx, cAddr, "", 0, false); err == nil {
			r.RefFlood, err = b.plainP99(ctx, cAddr, fmt.Sprintf("127.0.0.1:%d", b.goPort), -1, false)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// medians sets the point's p99s to the medians over its rounds.
func (iso *tlsIsolation) medians() {
	med := func(f func(r isolationRound) float64) float64 {
		v := make([]float64, len(iso.Rounds))
		for i, r := range iso.Rounds {
			v[i] = f(r)
		}
		return median(v)
	}
	iso.QuietP99us = med(func(r isolationRound) float64 { return r.Quiet })
	iso.CappedP99us = med(func(r isolationRound) float64 { return r.Capped })
	iso.FloodP99us = med(func(r isolationRound) float64 { return r.Flood })
	iso.ChurnP99us = med(func(r isolationRound) float64 { return r.Churn })
	iso.RefQuietP99us = med(func(r isolationRound) float64 { return r.RefQuiet })
	iso.RefFloodP99us = med(func(r isolationRound) float64 { return r.RefFlood })
}

// cappedRatios is each round's capped p99 over the quiet p99 measured just before it.
func (iso *tlsIsolation) cappedRatios() []float64 {
	out := make([]float64, len(iso.Rounds))
	for i, r := range iso.Rounds {
		out[i] = round3(ratio(r.Capped, r.Quiet))
	}
	return out
}

// realTimeAllowed reports whether the pinger may run at real-time priority here.
func realTimeAllowed() bool {
	return exec.Command("chrt", "-f", "10", "true").Run() == nil
}

// plainP99 runs the C pinger against addr for the run's duration while, when flood is set, tlsHSClients
// clients connect to flood (with TLS handshakes, or plain connections when plain is set; rate a second in
// all, or as fast as they can when rate < 0), and returns the pinger's p99 round trip.
func (b *tlsBench) plainP99(ctx context.Context, addr, flood string, rate int, plain bool) (float64, error) {
	errc := make(chan error, 1)
	if flood != "" {
		args := map[string]string{"mode": "handshake", "addr": flood, "conns": fmt.Sprint(tlsHSClients),
			"rate": fmt.Sprint(max(rate, 0)), "duration": (b.o.duration + 500*time.Millisecond).String()}
		if plain {
			args["plain"] = "1"
		}
		go func() {
			_, err := b.load(ctx, args)
			errc <- err
		}()
		time.Sleep(250 * time.Millisecond)
	} else {
		errc <- nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	argv := pinned("1", []string{b.o.pingC, host, port, fmt.Sprint(b.o.duration.Seconds())})
	if b.realTime {
		argv = append([]string{"chrt", "-f", "10"}, argv...)
	}
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	var r struct {
		P99us float64 `json:"p99_us"`
	}
	if err == nil {
		err = json.Unmarshal(out, &r)
	}
	if ferr := <-errc; err == nil {
		err = ferr
	}
	if err != nil {
		return 0, fmt.Errorf("ping-c %s: %w", addr, err)
	}
	return r.P99us, nil
}
