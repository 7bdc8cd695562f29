package systemd

import (
	"os"
	"strconv"
	"time"
)

// WatchdogInterval reads WATCHDOG_USEC (and WATCHDOG_PID, which must be this process when set), unsets
// both, and returns how often to send Watchdog: half the interval systemd enforces. It returns false
// when the watchdog is off or meant for another process.
func WatchdogInterval() (time.Duration, bool) {
	usecText, pidText := os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID")
	os.Unsetenv("WATCHDOG_USEC")
	os.Unsetenv("WATCHDOG_PID")
	if pidText != "" {
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid != os.Getpid() {
			return 0, false
		}
	}
	usec, err := strconv.ParseUint(usecText, 10, 63)
	if err != nil || usec == 0 || usec > uint64(time.Duration(1<<63-1)/time.Microsecond) {
		return 0, false
	}
	return time.Duration(usec) * time.Microsecond / 2, true
}
