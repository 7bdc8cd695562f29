package main

import (
	"math"
	"math/bits"
)

// The histogram is log-linear: values below 2*subCount are counted exactly; above, every power of two is cut
// into subCount equal buckets, so a bucket is at most 1/subCount (about 3%) wide relative to its values.
const (
	subBits  = 5
	subCount = 1 << subBits
	histLen  = (64 - subBits + 1) * subCount
)

// histogram counts latencies in nanoseconds in a fixed array: recording a sample never allocates.
type histogram struct {
	counts [histLen]uint64
	total  uint64
}

// bucketOf returns the bucket index of v.
func bucketOf(v uint64) int {
	if v < 2*subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return shift*subCount + int(v>>uint(shift))
}

// bucketBounds returns the smallest and largest value counted in bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < 2*subCount {
		return uint64(i), uint64(i)
	}
	shift := uint(i/subCount - 1)
	mant := uint64(i - int(shift)*subCount)
	return mant << shift, (mant+1)<<shift - 1
}

// record counts one sample of ns nanoseconds (negative values count as 0).
func (h *histogram) record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.counts[bucketOf(uint64(ns))]++
	h.total++
}

// merge adds the samples of o to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the value below which a fraction q of the samples lie, as the middle of its bucket;
// 0 when there are no samples.
func (h *histogram) quantile(q float64) uint64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.total {
		rank = h.total
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketBounds(i)
			return lo + (hi-lo)/2
		}
	}
	return 0
}
