package main

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestBucketBoundsContainValue(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, math.MaxUint64}
	for range 10000 {
		values = append(values, r.Uint64()>>r.IntN(64))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= histLen {
			t.Fatalf("bucketOf(%d) = %d, out of range", v, i)
		}
		lo, hi := bucketBounds(i)
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d [%d, %d]", v, i, lo, hi)
		}
		if v >= 2*subCount && float64(hi-lo+1)/float64(lo) > 1.0/subCount+1e-9 {
			t.Fatalf("bucket %d [%d, %d] wider than 1/%d", i, lo, hi, subCount)
		}
	}
	for i := 1; i < histLen; i++ {
		_, prevHi := bucketBounds(i - 1)
		lo, _ := bucketBounds(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, lo, prevHi)
		}
	}
}

func TestQuantile(t *testing.T) {
	uniform := func(h *histogram) {
		for v := int64(1); v <= 1_000_000; v++ {
			h.record(v)
		}
	}
	for _, tc := range []struct {
		name string
		fill func(*histogram)
		q    float64
		want float64
	}{
		{"empty", func(*histogram) {}, 0.5, 0},
		{"one sample", func(h *histogram) { h.record(5000) }, 0.99, 5000},
		{"exact small", func(h *histogram) {
			for v := int64(1); v <= 10; v++ {
				h.record(v)
			}
		}, 0.5, 5},
		{"uniform p50", uniform, 0.5, 500_000},
		{"uniform p99", uniform, 0.99, 990_000},
		{"uniform p999", uniform, 0.999, 999_000},
		{"tail", func(h *histogram) {
			for range 999 {
				h.record(10_000)
			}
			h.record(50_000_000)
		}, 0.999, 10_000},
		{"negative counts as zero", func(h *histogram) { h.record(-5) }, 0.5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := new(histogram)
			tc.fill(h)
			got := float64(h.quantile(tc.q))
			if math.Abs(got-tc.want) > tc.want/subCount {
				t.Fatalf("quantile(%v) = %v, want %v ± %.1f%%", tc.q, got, tc.want, 100.0/subCount)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	a, b := new(histogram), new(histogram)
	for range 100 {
		a.record(1000)
		b.record(2000)
	}
	b.record(3000)
	a.merge(b)
	if a.total != 201 {
		t.Fatalf("total = %d, want 201", a.total)
	}
	if q := a.quantile(0.75); q < 1900 || q > 2100 {
		t.Fatalf("p75 = %d, want about 2000", q)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	h := new(histogram)
	if n := testing.AllocsPerRun(1000, func() { h.record(123456) }); n != 0 {
		t.Fatalf("record allocates %v times", n)
	}
}
