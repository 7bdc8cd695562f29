package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// worker drives one connection (TCP) or one socket (UDP) in a closed loop.
type worker struct {
	id   uint32
	o    options
	lm   *lineMaker
	ctl  *control
	conn net.Conn

	out      []byte // the batch of lines in flight
	in       []byte // where replies are read
	seen     []bool // UDP: which lines of the batch came back
	gsoCtl   []byte // UDP with -gso: the UDP_SEGMENT control message of every batch
	seq      uint64 // sequence number of the next line
	deadline time.Time

	hist       histogram
	roundTrips uint64 // lines echoed intact during the measured phase
	errors     uint64
	lost       bool // the connection failed during the run
}

// writeInline is the largest batch written before reading; larger batches are written by a helper goroutine
// so that a server that stops reading while its replies are unread cannot deadlock the run.
const writeInline = 64 << 10

func newWorker(id uint32, o options, lm *lineMaker, ctl *control) *worker {
	w := &worker{id: id, o: o, lm: lm, ctl: ctl, out: make([]byte, o.size*o.pipeline)}
	if o.proto == "udp" {
		w.in = make([]byte, o.size+1) // one byte more than expected, to see a longer reply
		w.seen = make([]bool, o.pipeline)
	} else {
		w.in = make([]byte, len(w.out))
	}
	return w
}

// run dials (holding a slot of dialSlots meanwhile), reports ready, waits for start and then loops until
// the phase is phaseStop.
func (w *worker) run(ctx context.Context, addr string, dialSlots chan struct{}, ready *sync.WaitGroup,
	start <-chan struct{}) {
	d := net.Dialer{Timeout: w.o.timeout}
	dialSlots <- struct{}{}
	conn, err := d.DialContext(ctx, w.o.proto, addr)
	<-dialSlots
	if err != nil {
		w.errors++
		w.ctl.diag.printf("conn %d: %v", w.id, err)
		ready.Done()
		return
	}
	w.conn = conn
	ready.Done()
	defer conn.Close()
	<-start
	switch {
	case w.o.proto == "udp":
		w.loopUDP()
	case w.o.rate > 0:
		w.loopRate()
	case w.o.window > 0:
		w.loopWindow()
	default:
		w.loopTCP()
	}
}

// start begins the next batch: it fills it (next) and sets the batch's deadline. ok false: stop (a deadline
// that cannot be set is a failure, reported).
func (w *worker) start() (t0 time.Time, measuring, ok bool) {
	if measuring, ok = w.next(); !ok {
		return t0, false, false
	}
	t0 = time.Now()
	if err := w.keepDeadline(t0); err != nil {
		w.fail("deadline", err)
		return t0, false, false
	}
	return t0, measuring, true
}

// next fills the next batch; false when the run is over or the cap is used up.
func (w *worker) next() (measuring, ok bool) {
	ph := w.ctl.phase.Load()
	if ph == phaseStop {
		return false, false
	}
	measuring = ph == phaseMeasure
	if measuring && !w.ctl.take(w.o.pipeline) {
		return false, false
	}
	s := w.o.size
	for i := 0; i < w.o.pipeline; i++ {
		w.lm.fill(w.out[i*s:(i+1)*s], w.id, w.seq+uint64(i))
	}
	return measuring, true
}

// keepDeadline keeps the connection's deadline between 3/4 of the timeout and the timeout ahead of now,
// touching it only once in a while.
func (w *worker) keepDeadline(now time.Time) error {
	if w.deadline.Sub(now) >= w.o.timeout*3/4 {
		return nil
	}
	w.deadline = now.Add(w.o.timeout)
	return w.conn.SetDeadline(w.deadline)
}

// fail counts a broken connection.
func (w *worker) fail(what string, err error) {
	if w.ctl.phase.Load() == phaseStop && errors.Is(err, net.ErrClosed) {
		return // closed by waitWorkers after the run
	}
	w.errors++
	w.lost = true
	w.ctl.diag.printf("conn %d: %s: %v", w.id, what, err)
}

// loopTCP writes a batch in one write, reads until every byte of it came back, and starts again.
func (w *worker) loopTCP() {
	for {
		t0, measuring, ok := w.start()
		if !ok {
			return
		}
		if !w.roundTripTCP(t0, measuring) {
			return
		}
		w.seq += uint64(w.o.pipeline)
		if measuring {
			w.roundTrips += uint64(w.o.pipeline)
		}
	}
}

// roundTripTCP sends the batch and reads its echo; false when the connection failed.
func (w *worker) roundTripTCP(t0 time.Time, measuring bool) bool {
	if len(w.out) <= writeInline {
		if _, err := w.conn.Write(w.out); err != nil {
			w.fail("write", err)
			return false
		}
		return w.readTCP(t0, measuring)
	}
	werr := make(chan error, 1)
	go func() { _, err := w.conn.Write(w.out); werr <- err }()
	ok := w.readTCP(t0, measuring)
	if !ok {
		w.conn.Close()
	}
	if err := <-werr; err != nil && ok {
		w.fail("write", err)
		return false
	}
	return ok
}

// readTCP reads until the whole batch is back, checking each byte as it arrives and timing each line.
func (w *worker) readTCP(t0 time.Time, measuring bool) bool {
	got, lines := 0, 0
	for got < len(w.in) {
		n, err := w.conn.Read(w.in[got:])
		if n > 0 {
			if !bytes.Equal(w.in[got:got+n], w.out[got:got+n]) {
				at := got + firstDiff(w.in[got:got+n], w.out[got:got+n])
				w.errors++
				w.lost = true
				w.ctl.diag.printf("conn %d: echo differs at line %d byte %d: got %q want %q", w.id,
					w.seq+uint64(at/w.o.size), at%w.o.size, excerpt(w.in[:got+n], at), excerpt(w.out, at))
				return false
			}
			got += n
			if measuring && got/w.o.size > lines {
				lat := int64(time.Since(t0))
				for ; lines < got/w.o.size; lines++ {
					w.hist.record(lat)
				}
			}
		}
		if err != nil && got < len(w.in) {
			w.fail("read", err)
			return false
		}
	}
	return true
}

// excerpt returns up to 16 bytes of b from at.
func excerpt(b []byte, at int) []byte {
	return b[at:min(len(b), at+16)]
}

// isTimeout tells whether err is a deadline expiry.
func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
