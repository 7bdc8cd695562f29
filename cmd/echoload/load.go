package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The phases of a load run, read by every worker once per batch.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// control is what the workers of one run share: the phase and the optional cap on round trips.
type control struct {
	phase   atomic.Int32
	capped  bool
	budget  atomic.Int64 // round trips left when capped
	capHit  chan struct{}
	capOnce sync.Once
	diag    *diag
}

// take reserves n round trips of the cap; false when the cap is used up.
func (c *control) take(n int) bool {
	if !c.capped {
		return true
	}
	if c.budget.Add(-int64(n)) >= 0 {
		return true
	}
	c.capOnce.Do(func() { close(c.capHit) })
	return false
}

// dialers is how many connections are being opened at once, in load and idle mode: a connect storm would
// overflow a small listen backlog, and the handshakes dropped then would stall the first round trips by a
// second or more (SYN-ACK retransmission), which is not what a load run measures.
const dialers = 64

// runLoad opens the connections, runs the warm-up and the measured phase, and sums what the workers saw.
func runLoad(ctx context.Context, o options, d *diag) (result, *histogram) {
	ctl := &control{capped: o.requests > 0, capHit: make(chan struct{}), diag: d}
	ctl.budget.Store(int64(o.requests))
	lm := newLineMaker(o.size)
	ws := make([]*worker, o.conns)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	dialSlots := make(chan struct{}, dialers)
	for i := range ws {
		ws[i] = newWorker(uint32(i), o, lm, ctl)
		ready.Add(1)
		done.Add(1)
		go func(w *worker) {
			defer done.Done()
			w.run(ctx, o.addrs[int(w.id)%len(o.addrs)], dialSlots, &ready, start)
		}(ws[i])
	}
	ready.Wait()
	allDone := make(chan struct{})
	go func() { done.Wait(); close(allDone) }()
	close(start)
	if o.warmup > 0 {
		sleepCtx(ctx, o.warmup)
	}
	ctl.phase.Store(phaseMeasure)
	t0 := time.Now()
	timer := time.NewTimer(o.duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
	case <-ctl.capHit:
	case <-allDone:
	}
	timer.Stop()
	ctl.phase.Store(phaseStop)
	elapsed := time.Since(t0)
	waitWorkers(ws, allDone, o.timeout+time.Second)
	return sumWorkers(o, ws, elapsed)
}

// waitWorkers waits for the workers to finish their last batch; after grace it closes their connections.
func waitWorkers(ws []*worker, allDone <-chan struct{}, grace time.Duration) {
	select {
	case <-allDone:
		return
	case <-time.After(grace):
	}
	for _, w := range ws {
		if w.conn != nil {
			w.conn.Close()
		}
	}
	<-allDone
}

// sumWorkers adds up the counts and latencies of every worker.
func sumWorkers(o options, ws []*worker, elapsed time.Duration) (result, *histogram) {
	r := result{Proto: o.proto, Conns: o.conns, Size: o.size, Pipeline: o.pipeline, Window: o.window, Rate: o.rate,
		DurationS: elapsed.Seconds()}
	h := new(histogram)
	for _, w := range ws {
		r.RoundTrips += w.roundTrips
		r.Errors += w.errors
		if w.conn != nil {
			r.Established++
		}
		if w.lost {
			r.Lost++
		}
		h.merge(&w.hist)
	}
	setRates(&r, h)
	return r, h
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
