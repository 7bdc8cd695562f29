package main

import (
	"time"
)

// slidingWindow is the state of one connection in -window mode: the lines in flight, in a ring where line
// seq is at slot seq % window, each with the time it was sent.
type slidingWindow struct {
	ring   []byte
	sentAt []int64 // ns since base, per slot
	out    []byte  // the new lines of one write
	base   time.Time
	next   uint64 // the next line to send
	head   uint64 // the line whose echo is being read
	pos    int    // bytes of line head echoed so far
}

// loopWindow keeps -window lines in flight, as a client with a request window does: it writes the whole
// window once, then sends one new line for each line whose echo has come back. The lines freed by one read
// go out in one write, so the server sees reads of uneven sizes that often end inside a line.
func (w *worker) loopWindow() {
	n, s := w.o.window, w.o.size
	sw := &slidingWindow{ring: make([]byte, n*s), sentAt: make([]int64, n), out: make([]byte, 0, n*s),
		base: time.Now()}
	in := make([]byte, max(n*s, 4096))
	if !w.sendWindow(sw, n) {
		return
	}
	stopping := false
	for !stopping || sw.head < sw.next {
		if err := w.keepDeadline(time.Now()); err != nil {
			w.fail("deadline", err)
			return
		}
		m, err := w.conn.Read(in)
		ph := w.ctl.phase.Load()
		done, ok := w.checkEchoes(sw, in[:m], ph == phaseMeasure)
		if !ok {
			return
		}
		if err != nil {
			w.fail("read", err)
			return
		}
		stopping = stopping || ph == phaseStop
		if done > 0 && !stopping && !w.sendWindow(sw, done) {
			return
		}
	}
}

// sendWindow fills the next k lines into their slots and writes them in one write.
func (w *worker) sendWindow(sw *slidingWindow, k int) bool {
	s, n := w.o.size, uint64(w.o.window)
	now := int64(time.Since(sw.base))
	sw.out = sw.out[:0]
	for range k {
		slot := int(sw.next % n)
		line := sw.ring[slot*s : (slot+1)*s]
		w.lm.fill(line, w.id, sw.next)
		sw.out = append(sw.out, line...)
		sw.sentAt[slot] = now
		sw.next++
	}
	if _, err := w.conn.Write(sw.out); err != nil {
		w.fail("write", err)
		return false
	}
	return true
}

// checkEchoes compares the bytes of one read with the lines in flight and times each line it completes. It
// returns how many lines it completed; false when the echo differs from what was sent.
func (w *worker) checkEchoes(sw *slidingWindow, b []byte, measuring bool) (done int, ok bool) {
	s, n := w.o.size, uint64(w.o.window)
	now := int64(time.Since(sw.base))
	for len(b) > 0 {
		slot := int(sw.head % n)
		want := sw.ring[slot*s+sw.pos : (slot+1)*s]
		take := min(len(b), len(want))
		if at := firstDiff(b[:take], want[:take]); at >= 0 {
			w.errors++
			w.lost = true
			w.ctl.diag.printf("conn %d: echo differs at line %d byte %d: got %q want %q", w.id, sw.head,
				sw.pos+at, excerpt(b, at), excerpt(want, at))
			return done, false
		}
		b = b[take:]
		if sw.pos += take; sw.pos < s {
			break
		}
		if measuring {
			w.hist.record(now - sw.sentAt[slot])
			w.roundTrips++
		}
		sw.head++
		sw.pos = 0
		done++
	}
	return done, true
}
