package listeners

import (
	"time"

	"golang.org/x/sys/unix"

	"echogate/internal/stamp"
)

// stampClock is the state of the system clock as STAMP reports it in every Error Estimate and Timestamp
// Information TLV: whether it is synchronised to an external source and how large its error may be, read
// with adjtimex(2) at most once a second (the kernel's view changes slowly; a system call per packet would
// not be worth it).
type stampClock struct {
	readAt int64 // loop ns of the last adjtimex; 0 = never
	synced bool
	errNs  int64 // estimated error when synced, maximum error when not
	taiNs  int64 // TAI − UTC, for PTP timestamps
}

// stampClockEvery is how often the clock's state is read again.
const stampClockEvery = time.Second

// refresh reads the clock's state again when it is older than stampClockEvery.
func (c *stampClock) refresh(now int64) {
	if c.readAt != 0 && now-c.readAt < int64(stampClockEvery) {
		return
	}
	c.readAt = now
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		c.synced, c.errNs, c.taiNs = false, 0, 0
		return
	}
	c.synced = clockSynced(state, tx.Status)
	c.errNs = int64(tx.Maxerror) * 1000 // µs
	if c.synced {
		c.errNs = int64(tx.Esterror) * 1000
	}
	c.taiNs = int64(tx.Tai) * 1e9
}

// clockSynced tells from adjtimex's answer whether the clock is synchronised: the kernel says TIME_ERROR or
// sets STA_UNSYNC when no time daemon keeps it in step.
func clockSynced(state int, status int32) bool {
	return state != unix.TIME_ERROR && status&unix.STA_UNSYNC == 0
}

// errorEstimate is the Error Estimate of the reflector's timestamps.
func (c *stampClock) errorEstimate(ptp bool) uint16 {
	return stamp.ErrorEstimate(c.synced, ptp, c.errNs)
}

// syncSource is the Timestamp Information TLV's synchronization source of the reflector's clock.
func (c *stampClock) syncSource() uint8 {
	if c.synced {
		return stamp.SyncNTP
	}
	return stamp.SyncFreeRun
}

// timestamp is ns (unix) in the listener's format.
func (c *stampClock) timestamp(ns int64, ptp bool) uint64 {
	if ptp {
		return stamp.PTP(ns + c.taiNs)
	}
	return stamp.NTP(ns)
}
