package echotest

import (
	"testing"

	"golang.org/x/sys/unix"
)

// MonotonicUsec is CLOCK_MONOTONIC in microseconds, the clock of sd_notify's MONOTONIC_USEC: a test reads it
// before and after a reload to bound the value the daemon sent.
func MonotonicUsec(t *testing.T) int64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Sec*1_000_000 + ts.Nsec/1_000
}
