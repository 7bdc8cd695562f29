package policy

import (
	"testing"
	"time"

	"echogate/config"
)

// take is one call of a rate-limit scenario: at time at, expect ok and, when refused, wait.
type take struct {
	at   time.Duration
	ok   bool
	wait time.Duration
}

// ms is a shorthand for scenario times.
const ms = time.Millisecond

func TestTakeLine(t *testing.T) {
	for _, tc := range []struct {
		name        string
		rate, burst int
		takes       []take
	}{
		{"unlimited", 0, 0, []take{{0, true, 0}, {0, true, 0}, {0, true, 0}, {0, true, 0}}},
		{"unlimited ignores burst", 0, 1, []take{{0, true, 0}, {0, true, 0}}},
		{"burst defaults to rate", 2, 0, []take{
			{0, true, 0}, {0, true, 0}, {0, false, 500 * ms}, {499 * ms, false, ms},
			{500 * ms, true, 0}, {500 * ms, false, 500 * ms},
		}},
		{"explicit burst", 1, 3, []take{
			{0, true, 0}, {0, true, 0}, {0, true, 0}, {0, false, time.Second},
			{250 * ms, false, 750 * ms}, {time.Second, true, 0}, {time.Second, false, time.Second},
		}},
		{"burst of one", 10, 1, []take{
			{0, true, 0}, {0, false, 100 * ms}, {50 * ms, false, 50 * ms}, {100 * ms, true, 0},
			{150 * ms, false, 50 * ms}, {200 * ms, true, 0},
		}},
		{"steady rate never refused", 10, 1, []take{
			{0, true, 0}, {100 * ms, true, 0}, {200 * ms, true, 0}, {300 * ms, true, 0},
		}},
		{"refill caps at burst", 4, 2, []take{
			{0, true, 0}, {0, true, 0}, {0, false, 250 * ms},
			{time.Hour, true, 0}, {time.Hour, true, 0}, {time.Hour, false, 250 * ms},
		}},
		{"partial refill", 4, 4, []take{
			{0, true, 0}, {0, true, 0}, {0, true, 0}, {0, true, 0}, {0, false, 250 * ms},
			{500 * ms, true, 0}, {500 * ms, true, 0}, {500 * ms, false, 250 * ms},
		}},
		{"refusals cost nothing", 1, 1, []take{
			{0, true, 0}, {100 * ms, false, 900 * ms}, {200 * ms, false, 800 * ms},
			{900 * ms, false, 100 * ms}, {time.Second, true, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(&config.Listener{RateLines: tc.rate, RateBurst: tc.burst})
			if got := p.LinesLimited(); got != (tc.rate > 0) {
				t.Errorf("LinesLimited = %v", got)
			}
			var b Bucket
			start := int64(5 * time.Hour) // the monotonic clock does not start at 0
			for i, s := range tc.takes {
				ok, wait := p.TakeLine(&b, start+int64(s.at))
				if ok != s.ok || wait != s.wait {
					t.Errorf("take %d at %v = (%v, %v), want (%v, %v)", i, s.at, ok, wait, s.ok, s.wait)
				}
			}
		})
	}
}

func TestTakeDatagram(t *testing.T) {
	for _, tc := range []struct {
		name        string
		rate, burst int
		takes       []take
	}{
		{"unlimited", 0, 0, []take{{0, true, 0}, {0, true, 0}, {0, true, 0}}},
		{"burst defaults to rate", 3, 0, []take{
			{0, true, 0}, {0, true, 0}, {0, true, 0}, {0, false, 0}, {334 * ms, true, 0}, {334 * ms, false, 0},
		}},
		{"explicit burst", 100, 2, []take{
			{0, true, 0}, {0, true, 0}, {0, false, 0}, {10 * ms, true, 0}, {10 * ms, false, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(&config.Listener{Protocol: config.UDP, RateDatagrams: tc.rate, RateBurst: tc.burst})
			if got := p.DatagramsLimited(); got != (tc.rate > 0) {
				t.Errorf("DatagramsLimited = %v", got)
			}
			var b Bucket
			for i, s := range tc.takes {
				if ok := p.TakeDatagram(&b, int64(s.at)); ok != s.ok {
					t.Errorf("take %d at %v = %v, want %v", i, s.at, ok, s.ok)
				}
			}
		})
	}
}

func TestRatesAreSeparate(t *testing.T) {
	p := New(&config.Listener{RateLines: 1, RateDatagrams: 0, RateBurst: 1})
	if !p.LinesLimited() || p.DatagramsLimited() {
		t.Fatalf("LinesLimited %v DatagramsLimited %v", p.LinesLimited(), p.DatagramsLimited())
	}
	var b Bucket
	p.TakeLine(&b, 0)
	if !p.TakeDatagram(&b, 0) {
		t.Error("rate_datagrams 0 refused a datagram")
	}
}

func TestRateExtremes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		rate, burst int
		n           int // takes at one instant that must all succeed
	}{
		{"faster than one per ns", 2_000_000_000, 0, 1000},
		{"huge burst", 1, 1 << 62, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(&config.Listener{RateLines: tc.rate, RateBurst: tc.burst})
			var b Bucket
			for i := range tc.n {
				if ok, _ := p.TakeLine(&b, 1); !ok {
					t.Fatalf("take %d refused", i)
				}
			}
		})
	}
}
