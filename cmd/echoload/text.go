package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// writeText prints the human-readable summary of a run: what ran, the counts, the percentiles and a latency
// histogram; for ping mode, ping's statistics lines.
func writeText(w io.Writer, o options, r result, h *histogram) {
	if p := r.Ping; p != nil {
		fmt.Fprintf(w, "--- %s %s echo statistics ---\n", o.addrs[0], o.proto)
		fmt.Fprintf(w, "%d probes sent, %d echoed, %.1f%% loss, time %.2f s\n", p.Sent, p.Received, p.LossPct,
			r.DurationS)
		if p.Received > 0 {
			fmt.Fprintf(w, "rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", p.MinUs/1e3, p.AvgUs/1e3,
				p.MaxUs/1e3, p.MdevUs/1e3)
		}
		return
	}
	fmt.Fprintf(w, "echoload: %s %s, %s, %.2f s\n", o.proto, strings.Join(o.addrs, ","), shape(o), r.DurationS)
	if o.idle > 0 {
		fmt.Fprintf(w, "  connections  %d established, %d lost, errors %d\n", r.Established, r.Lost, r.Errors)
		return
	}
	fmt.Fprintf(w, "  round trips  %d (%.1f/s, %.3f MB/s of payload), errors %d\n", r.RoundTrips, r.RPS, r.MBperS,
		r.Errors)
	fmt.Fprintf(w, "  connections  %d established, %d lost\n", r.Established, r.Lost)
	if h.total == 0 {
		return
	}
	fmt.Fprintf(w, "  latency      p50 %s  p99 %s  p99.9 %s  max %s\n", us(h.quantile(0.5)),
		us(h.quantile(0.99)), us(h.quantile(0.999)), us(h.max()))
	for _, row := range h.rows(histRows) {
		fmt.Fprintf(w, "  %11s  %9d  %5.1f%%  %s\n", "≤ "+us(row.hi), row.count, row.cum,
			strings.Repeat("█", row.bar))
	}
}

// shape describes the load of a run in words.
func shape(o options) string {
	switch {
	case o.idle > 0:
		return fmt.Sprintf("%d idle connections", o.idle)
	case o.rate > 0:
		return fmt.Sprintf("%d connections, %d B lines, open loop at %g/s", o.conns, o.size, o.rate)
	case o.window > 0:
		return fmt.Sprintf("%d connections, %d B lines, sliding window of %d", o.conns, o.size, o.window)
	}
	return fmt.Sprintf("%d connections, %d B lines, %d in flight", o.conns, o.size, o.pipeline)
}

// us formats nanoseconds as microseconds, or milliseconds from 1 ms.
func us(ns uint64) string {
	if ns >= 1_000_000 {
		return fmt.Sprintf("%.2f ms", float64(ns)/1e6)
	}
	return fmt.Sprintf("%.1f µs", float64(ns)/1e3)
}

// histRows is how many rows the text histogram has at most; histBar is the width of its longest bar.
const (
	histRows = 12
	histBar  = 40
)

// histRow is one row of the text histogram: the samples up to hi ns, their share as a bar, and the share of
// all samples up to hi in per cent.
type histRow struct {
	hi    uint64
	count uint64
	cum   float64
	bar   int
}

// rows folds the histogram into at most n rows of equal width on a log scale, from the smallest sample to
// the largest.
func (h *histogram) rows(n int) []histRow {
	first, last := -1, -1
	for i, c := range h.counts {
		if c > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return nil
	}
	lo, _ := bucketBounds(first)
	_, hi := bucketBounds(last)
	lo = max(lo, 1)
	step := math.Pow(float64(hi)/float64(lo), 1/float64(n))
	rows := make([]histRow, n)
	for i := range rows {
		rows[i].hi = uint64(float64(lo) * math.Pow(step, float64(i+1)))
	}
	rows[n-1].hi = hi
	r := 0
	for i := first; i <= last; i++ {
		_, bhi := bucketBounds(i)
		for r < n-1 && bhi > rows[r].hi {
			r++
		}
		rows[r].count += h.counts[i]
	}
	var peak, seen uint64
	out := rows[:0]
	for _, row := range rows {
		if row.count > 0 || len(out) > 0 { // leading empty rows say nothing
			out = append(out, row)
			peak = max(peak, row.count)
		}
	}
	for i := range out {
		seen += out[i].count
		out[i].cum = 100 * float64(seen) / float64(h.total)
		out[i].bar = int(math.Ceil(float64(histBar) * float64(out[i].count) / float64(peak)))
	}
	return out
}

// max returns the upper bound of the largest sample's bucket; 0 when there are none.
func (h *histogram) max() uint64 {
	for i := len(h.counts) - 1; i >= 0; i-- {
		if h.counts[i] > 0 {
			_, hi := bucketBounds(i)
			return hi
		}
	}
	return 0
}
