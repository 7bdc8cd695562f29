// Package logq writes slog records out from a bounded queue on a goroutine of its own, so that logging
// never makes the caller wait for whoever reads the log: when the queue is full, records are dropped and
// counted, and one record says how many once the writer has caught up. Goroutines that may wait a little
// use a handler that waits for room while the writer is making progress, so that a burst is not lost to a
// reader that is merely slower than the burst.
package logq

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"echogate/internal/logmsg"
)

// Queue holds records between the goroutines that log them and the one goroutine that hands them to the
// underlying handler. Records keep the time they were made; their attributes are formatted on the writer
// goroutine, so a caller must log values, not pointers to state it goes on changing.
type Queue struct {
	base    slog.Handler
	records chan *entry
	kick    chan struct{} // a drop happened: report it even if no record follows
	stop    chan struct{}
	done    chan struct{} // closed when the writer has returned
	closing sync.Once
	stopped atomic.Bool
	dropped atomic.Uint64 // records lost since the start: the queue was full or the write failed
	unsaid  atomic.Uint64 // of those, the ones no "log lines dropped" record has reported yet
	busy    atomic.Int64  // when the write in progress began, unix ns; 0 between writes
}

// entry is one queued record and the handler (with its attributes and groups) that formats it.
type entry struct {
	h slog.Handler
	r slog.Record
}

// New starts the writer goroutine for h with room for size records and returns the queue. Call Close to
// stop it.
func New(h slog.Handler, size int) *Queue {
	q := &Queue{
		base:    h,
		records: make(chan *entry, max(size, 1)),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go q.run()
	return q
}

// Handler returns the handler to log through where waiting is never allowed (an event loop): it never
// blocks, and a record that finds the queue full is dropped.
func (q *Queue) Handler() slog.Handler { return &handler{q: q, h: q.base} }

// Waiting returns a handler for goroutines that may wait: a record that finds the queue full waits for room
// for as long as the writer keeps finishing writes, and is dropped once one write has taken patience (the
// reader has stopped). While that write lasts, later records are dropped at once, so a stalled reader
// costs a caller patience once, not on every record.
func (q *Queue) Waiting(patience time.Duration) slog.Handler {
	return &handler{q: q, h: q.base, patience: patience}
}

// Dropped returns how many records were lost since the start, because the queue was full or because the
// underlying handler failed to write them. It is safe from any goroutine.
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }

// Close stops the queue: records already queued are written, for up to wait, and later ones are dropped.
// It reports whether the writer finished within wait; a writer stuck on a stalled reader is left behind,
// so a process can exit on time.
func (q *Queue) Close(wait time.Duration) bool {
	q.closing.Do(func() {
		q.stopped.Store(true)
		close(q.stop)
	})
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-q.done:
		return true
	case <-t.C:
		return false
	}
}

// put queues r for h, or drops it when the queue is full or closed. With a patience it first waits for
// room as long as the writer is making progress.
func (q *Queue) put(h slog.Handler, r slog.Record, patience time.Duration) {
	if !q.stopped.Load() {
		e := &entry{h: h, r: r.Clone()}
		select {
		case q.records <- e:
			return
		default:
		}
		if patience > 0 && q.await(e, patience) {
			return
		}
	}
	q.lose()
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// await waits to queue e until the writer has been stuck on one write for patience. It reports whether e
// was queued.
func (q *Queue) await(e *entry, patience time.Duration) bool {
	t := time.NewTimer(patience)
	defer t.Stop()
	for !q.stuck(patience) && !q.stopped.Load() {
		select {
		case q.records <- e:
			return true
		case <-t.C:
			t.Reset(patience)
		case <-q.stop:
		}
	}
	return false
}

// stuck reports whether the write in progress began at least patience ago.
func (q *Queue) stuck(patience time.Duration) bool {
	began := q.busy.Load()
	return began != 0 && time.Since(time.Unix(0, began)) >= patience
}

func (q *Queue) lose() {
	q.dropped.Add(1)
	q.unsaid.Add(1)
}

// run is the writer goroutine. Each time it has emptied the queue it reports the records lost since its
// last report.
func (q *Queue) run() {
	defer close(q.done)
	for {
		select {
		case e := <-q.records:
			q.write(e)
		case <-q.kick:
		case <-q.stop:
			q.drain()
			return
		}
		if len(q.records) == 0 {
			q.report()
		}
	}
}

// drain writes what is left in the queue, then the last report.
func (q *Queue) drain() {
	for {
		select {
		case e := <-q.records:
			q.write(e)
		default:
			q.report()
			return
		}
	}
}

func (q *Queue) write(e *entry) {
	q.busy.Store(time.Now().UnixNano())
	defer q.busy.Store(0)
	if err := e.h.Handle(context.Background(), e.r); err != nil {
		q.lose() // e.g. EPIPE: the reader is gone
	}
}

// report logs how many records were lost since the last report, if any. A report that fails to be written
// is not counted itself, so a reader that has gone away cannot turn it into an endless loop.
func (q *Queue) report() {
	n := q.unsaid.Swap(0)
	if n == 0 {
		return
	}
	r := slog.NewRecord(time.Now(), slog.LevelWarn, logmsg.LogsDropped, 0)
	r.AddAttrs(slog.Uint64("count", n), slog.Uint64("total", q.dropped.Load()))
	if q.base.Enabled(context.Background(), slog.LevelWarn) {
		_ = q.base.Handle(context.Background(), r)
	}
}

// handler is the slog.Handler callers use: it checks the level at once and queues the record.
type handler struct {
	q        *Queue
	h        slog.Handler
	patience time.Duration // how long the writer may go without writing before a full queue drops; 0 = never wait
}

// Enabled reports whether the underlying handler logs records at level.
func (h *handler) Enabled(ctx context.Context, level slog.Level) bool { return h.h.Enabled(ctx, level) }

// Handle queues r and never fails: a record that does not fit is counted as dropped.
func (h *handler) Handle(_ context.Context, r slog.Record) error {
	h.q.put(h.h, r, h.patience)
	return nil
}

// WithAttrs returns a handler whose records carry attrs.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{q: h.q, h: h.h.WithAttrs(attrs), patience: h.patience}
}

// WithGroup returns a handler that puts later attributes in the group name.
func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{q: h.q, h: h.h.WithGroup(name), patience: h.patience}
}
