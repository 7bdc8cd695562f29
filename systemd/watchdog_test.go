package systemd

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name, usec, pid string
		want            time.Duration
		ok              bool
	}{
		{name: "30s", usec: "30000000", want: 15 * time.Second, ok: true},
		{name: "our pid", usec: "1000000", pid: self, want: 500 * time.Millisecond, ok: true},
		{name: "other pid", usec: "1000000", pid: "1"},
		{name: "bad pid", usec: "1000000", pid: "me"},
		{name: "unset"},
		{name: "zero", usec: "0"},
		{name: "garbage", usec: "30s"},
		{name: "negative", usec: "-5"},
		{name: "overflow", usec: "18446744073709551615"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			got, ok := WatchdogInterval()
			if got != tc.want || ok != tc.ok {
				t.Errorf("WatchdogInterval() = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
			for _, k := range []string{"WATCHDOG_USEC", "WATCHDOG_PID"} {
				if _, set := os.LookupEnv(k); set {
					t.Errorf("%s still set", k)
				}
			}
		})
	}
}
