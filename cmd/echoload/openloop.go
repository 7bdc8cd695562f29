package main

import (
	"errors"
	"io"
	"math"
	"sync/atomic"
	"time"
)

// In open-loop mode (-rate) every connection sends its share of the rate on a fixed schedule: line seq is
// due at base + seq*period, whatever the server does, and its latency counts from that time, not from when
// it was written. A server that stalls for 10 ms thus shows 10 ms of latency on every line due meanwhile,
// where a closed loop would wait, send nothing and report a single slow round trip (coordinated omission).
// This is what wrk2 and fortio do. A sender that falls behind (a busy client) writes every line that is
// due in one write, so the rate holds and the lateness is in the figures.

// openLoop is what the sender and the reader of one connection share.
type openLoop struct {
	base   time.Time
	period time.Duration
	first  atomic.Uint64 // the first line sent in the measured phase
	end    atomic.Uint64 // the number of lines sent, once the sender is done
	err    error         // the sender's error, read after it is done
}

// maxBurst bounds the lines of one write when the sender has fallen behind.
const maxBurst = 1024

// loopRate runs one connection's share of -rate: a goroutine sends, this one reads and times the echoes.
func (w *worker) loopRate() {
	period := time.Duration(math.Round(float64(time.Second) * float64(w.o.conns) / w.o.rate))
	ol := &openLoop{period: max(period, 1)}
	// The connections' schedules are spread over one period, so that they do not all send at once.
	ol.base = time.Now().Add(ol.period * time.Duration(w.id) / time.Duration(w.o.conns))
	ol.first.Store(math.MaxUint64)
	ol.end.Store(math.MaxUint64)
	sent := make(chan struct{})
	go func() { defer close(sent); w.sendOnSchedule(ol) }()
	ok := w.readOnSchedule(ol)
	if !ok {
		_ = w.conn.Close() // unblocks the sender
	}
	<-sent
	if ol.err != nil && ok {
		w.fail("write", ol.err)
	}
}

// sendOnSchedule writes every line when it is due until the run stops, then tells the reader how many it sent.
func (w *worker) sendOnSchedule(ol *openLoop) {
	s := w.o.size
	buf := make([]byte, maxBurst*s)
	var sent uint64
	var deadline time.Time
	for {
		ph := w.ctl.phase.Load()
		if ph == phaseStop {
			break
		}
		if ph == phaseMeasure && ol.first.Load() == math.MaxUint64 {
			ol.first.Store(sent)
		}
		now := time.Now()
		due := uint64(0)
		if since := now.Sub(ol.base); since >= 0 {
			due = uint64(since/ol.period) + 1
		}
		if due <= sent {
			time.Sleep(ol.base.Add(time.Duration(sent) * ol.period).Sub(now))
			continue
		}
		k := min(due-sent, maxBurst)
		for i := range k {
			w.lm.fill(buf[int(i)*s:int(i+1)*s], w.id, sent+i)
		}
		if deadline.Sub(now) < w.o.timeout*3/4 {
			deadline = now.Add(w.o.timeout)
			_ = w.conn.SetWriteDeadline(deadline)
		}
		if _, err := w.conn.Write(buf[:int(k)*s]); err != nil {
			ol.err = err
			break
		}
		sent += k
	}
	ol.end.Store(sent)
	_ = w.conn.SetReadDeadline(time.Now()) // wakes the reader, which may be waiting for nothing more
}

// readOnSchedule reads the echoes until every line the sender sent is back, checks every byte, and records
// the latency of each measured line from the time it was due. False when the connection failed.
func (w *worker) readOnSchedule(ol *openLoop) bool {
	s := w.o.size
	want := make([]byte, s)
	in := make([]byte, 64<<10)
	var seq uint64
	pos := 0
	w.lm.fill(want, w.id, 0)
	var deadline, last time.Time // last: the deadline for the echoes in flight once the sender is done
	for {
		switch end := ol.end.Load(); {
		case end != math.MaxUint64 && seq == end:
			return true
		case end != math.MaxUint64 && last.IsZero():
			last = time.Now().Add(w.o.timeout)
			_ = w.conn.SetReadDeadline(last)
		case end == math.MaxUint64:
			if now := time.Now(); deadline.Sub(now) < w.o.timeout*3/4 {
				deadline = now.Add(w.o.timeout)
				_ = w.conn.SetReadDeadline(deadline)
			}
			if ol.end.Load() != math.MaxUint64 {
				continue // the sender finished meanwhile, and its wake-up may have been overwritten
			}
		}
		m, err := w.conn.Read(in)
		if !w.checkScheduled(ol, in[:m], want, &seq, &pos) {
			return false
		}
		switch {
		case isTimeout(err) && ol.end.Load() != math.MaxUint64 && (last.IsZero() || time.Now().Before(last)):
			last = time.Time{} // woken by the sender when it finished: wait for the echoes in flight
			continue
		case errors.Is(err, io.EOF) && seq == ol.end.Load():
			return true
		case errors.Is(err, io.EOF):
			w.fail("read", errors.New("closed by the server before every line was echoed"))
			return false
		case err != nil:
			w.fail("read", err)
			return false
		}
	}
}

// checkScheduled compares the bytes of one read with the lines sent, from byte pos of line seq, and records
// the latency of every measured line it completes. False when the echo differs.
func (w *worker) checkScheduled(ol *openLoop, b, want []byte, seq *uint64, pos *int) bool {
	s := w.o.size
	since := int64(time.Since(ol.base))
	first, end := ol.first.Load(), ol.end.Load()
	for len(b) > 0 {
		take := min(len(b), s-*pos)
		if at := firstDiff(b[:take], want[*pos:*pos+take]); at >= 0 {
			w.errors++
			w.lost = true
			w.ctl.diag.printf("conn %d: echo differs at line %d byte %d: got %q want %q", w.id, *seq, *pos+at,
				excerpt(b, at), excerpt(want, *pos+at))
			return false
		}
		b, *pos = b[take:], *pos+take
		if *pos < s {
			break
		}
		if *seq >= first && *seq < end {
			w.hist.record(since - int64(*seq)*int64(ol.period))
			w.roundTrips++
		}
		*seq, *pos = *seq+1, 0
		w.lm.fill(want, w.id, *seq)
	}
	return true
}
