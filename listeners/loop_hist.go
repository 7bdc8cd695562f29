package listeners

import "time"

// loopHist is a histogram the loop records into without allocating: fixed bucket bounds, a count per
// bucket, a sum. The loop owns it; a snapshot copies it out as a Histogram.
type loopHist struct {
	bounds *[histBuckets]int64 // upper bounds in ns, ascending
	counts [histBuckets + 1]uint64
	sum    int64 // ns
}

// histBuckets is how many finite buckets a loop histogram has.
const histBuckets = 14

// busyBounds are the buckets of the loop's busy time per wake-up: microseconds when it serves a few clients,
// milliseconds for a reload of thousands of listeners.
var busyBounds = [histBuckets]int64{
	int64(time.Microsecond), 5 * int64(time.Microsecond), 10 * int64(time.Microsecond),
	25 * int64(time.Microsecond), 50 * int64(time.Microsecond), 100 * int64(time.Microsecond),
	250 * int64(time.Microsecond), 500 * int64(time.Microsecond), int64(time.Millisecond),
	5 * int64(time.Millisecond), 10 * int64(time.Millisecond), 50 * int64(time.Millisecond),
	100 * int64(time.Millisecond), int64(time.Second),
}

// lagBounds are the buckets of timer lateness. epoll_wait's timeout is in whole milliseconds, rounded up, so
// a timer fires up to 1 ms late on an idle loop; lateness beyond that is the loop being busy.
var lagBounds = [histBuckets]int64{
	100 * int64(time.Microsecond), 500 * int64(time.Microsecond), int64(time.Millisecond),
	2 * int64(time.Millisecond), 5 * int64(time.Millisecond), 10 * int64(time.Millisecond),
	25 * int64(time.Millisecond), 50 * int64(time.Millisecond), 100 * int64(time.Millisecond),
	250 * int64(time.Millisecond), 500 * int64(time.Millisecond), int64(time.Second),
	2500 * int64(time.Millisecond), 10 * int64(time.Second),
}

// observe counts one value of ns nanoseconds.
func (h *loopHist) observe(ns int64) {
	ns = max(ns, 0)
	h.sum += ns
	for i, b := range h.bounds {
		if ns <= b {
			h.counts[i]++
			return
		}
	}
	h.counts[histBuckets]++
}

// Histogram is a copy of one of the loop's histograms, in seconds, as Prometheus wants it.
type Histogram struct {
	Bounds []float64 // upper bounds of the buckets, ascending; the last bucket (+Inf) has none
	Counts []uint64  // per bucket, not cumulative: len(Bounds)+1
	Count  uint64
	Sum    float64 // seconds
}

// snapshot copies h.
func (h *loopHist) snapshot() Histogram {
	out := Histogram{Bounds: make([]float64, histBuckets), Counts: make([]uint64, histBuckets+1),
		Sum: float64(h.sum) / 1e9}
	for i, b := range h.bounds {
		out.Bounds[i] = float64(b) / 1e9
	}
	for i, n := range h.counts {
		out.Counts[i] = n
		out.Count += n
	}
	return out
}
