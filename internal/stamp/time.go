package stamp

import (
	"math"
	"math/bits"
)

// ntpEpochOffset is the number of seconds from 1900-01-01 (the NTP epoch) to 1970-01-01 (the Unix epoch).
const ntpEpochOffset = 2208988800

// The bits of the Error Estimate (RFC 4656 §4.1.2, RFC 8186 §2.3 for Z).
const (
	ErrSync  = 0x8000 // S: the clock is synchronised to UTC by an external source
	ErrPTP   = 0x4000 // Z: the timestamps are in the PTPv2 truncated format, not NTP
	errScale = 0x3f00 // Scale: 6 bits
)

// NTP is the 64-bit NTP timestamp of t, nanoseconds since the Unix epoch: seconds since 1900 in the high 32
// bits, the fraction of a second in units of 2^-32 s in the low 32 bits.
func NTP(unixNano int64) uint64 {
	sec := uint64(unixNano/1e9) + ntpEpochOffset
	frac := (uint64(unixNano%1e9) << 32) / 1e9
	return sec<<32 | frac
}

// PTP is the PTPv2 truncated timestamp of t: seconds in the high 32 bits, nanoseconds in the low 32. The
// caller passes TAI nanoseconds since the PTP epoch (1970-01-01 TAI) for a conforming PTP timestamp.
func PTP(unixNano int64) uint64 {
	return uint64(unixNano/1e9)<<32 | uint64(unixNano%1e9)
}

// UnixNano converts a STAMP timestamp back to nanoseconds since the Unix epoch; ptp says its format (the Z
// bit of the Error Estimate that goes with it). NTP timestamps are rounded to the nearest nanosecond.
func UnixNano(ts uint64, ptp bool) int64 {
	sec, low := int64(ts>>32), ts&0xffffffff
	if ptp {
		return sec*1e9 + int64(low)
	}
	hi, lo := bits.Mul64(low, 1e9)
	ns := hi<<32 | lo>>32
	if lo&(1<<31) != 0 {
		ns++
	}
	return (sec-ntpEpochOffset)*1e9 + int64(ns)
}

// ErrorEstimate encodes the Error Estimate field: S when synced, Z when ptp, and the estimated error
// errNs (nanoseconds) as Multiplier × 2^(Scale−32) seconds, rounded up so that it never claims better than
// it knows. An error of 0 or less is written as the smallest one (Scale 0, Multiplier 1): RFC 4656 says the
// Multiplier must not be zero. An error too large for the field is written as the largest.
func ErrorEstimate(synced, ptp bool, errNs int64) uint16 {
	var v uint16
	if synced {
		v |= ErrSync
	}
	if ptp {
		v |= ErrPTP
	}
	// units of 2^-32 s: errNs × 2^32 / 1e9, rounded up.
	units := uint64(1)
	if errNs > 0 {
		hi, lo := bits.Mul64(uint64(errNs), 1<<32)
		if hi >= 1e9 {
			return v | errScale | 0xff
		}
		q, r := bits.Div64(hi, lo, 1e9)
		if units = q; r != 0 {
			units++
		}
	}
	for scale := uint16(0); scale < 64; scale++ {
		// mult = ceil(units / 2^scale)
		mult := units >> scale
		if units&(1<<scale-1) != 0 {
			mult++
		}
		if mult <= 255 {
			return v | scale<<8 | uint16(max(mult, 1))
		}
	}
	return v | errScale | 0xff
}

// ErrorNanos decodes the estimated error of an Error Estimate field, in nanoseconds (saturated).
func ErrorNanos(e uint16) int64 {
	ns := math.Ldexp(float64(e&0xff)*1e9, int(e>>8&0x3f)-32)
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(math.Ceil(ns))
}
