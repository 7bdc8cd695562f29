package listeners

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestEventBufferGrowsAndShrinks drives the event buffer's sizing with the counts of a burst and of the quiet
// that follows it.
func TestEventBufferGrowsAndShrinks(t *testing.T) {
	r := &reactor{events: make([]unix.EpollEvent, eventsMin)}
	for _, tc := range []struct {
		name  string
		n     int // events of each wake-up
		times int
		want  int // buffer length after them
	}{
		{"a full wake-up doubles it", eventsMin, 1, 2 * eventsMin},
		{"a burst grows it to the cap", eventsMax, 8, eventsMax},
		{"a busy wake-up keeps it", eventsMax / 2, 1000, eventsMax},
		{"a short quiet run keeps it", 3, eventsShrinkAfter - 1, eventsMax},
		{"a busy wake-up restarts the count", eventsMax / 2, 1, eventsMax},
		{"a long quiet run halves it", 3, eventsShrinkAfter, eventsMax / 2},
		{"quiet for long: down to the floor", 0, 100 * eventsShrinkAfter, eventsMin},
	} {
		for range tc.times {
			r.fitEvents(min(tc.n, len(r.events)))
		}
		if got := len(r.events); got != tc.want {
			t.Fatalf("%s: buffer of %d events, want %d", tc.name, got, tc.want)
		}
	}
}
