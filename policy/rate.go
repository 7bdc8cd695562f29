package policy

import (
	"math"
	"time"
)

// Bucket is the token-bucket state of one TCP connection (rate_lines) or one UDP source
// (rate_datagrams). Its zero value is a full bucket. It is kept in the form of the generic cell
// rate algorithm: one instant, the time at which the bucket will be full again.
type Bucket struct {
	full int64 // monotonic ns at which every token is back; the bucket is full at or after it
}

// rate is one rate limit: a token is earned every interval, and at most burst are held.
type rate struct {
	interval int64 // ns per token; 0 = no limit
	depth    int64 // (burst-1)*interval: how far full may lie ahead of now and still grant a token
}

// newRate returns the limit of perSecond tokens a second with the given burst (perSecond when 0).
func newRate(perSecond, burst int) rate {
	if perSecond <= 0 {
		return rate{}
	}
	if burst <= 0 {
		burst = perSecond
	}
	interval := max(int64(time.Second)/int64(perSecond), 1)
	depth := int64(math.MaxInt64 / 2)
	if int64(burst-1) < depth/interval {
		depth = int64(burst-1) * interval
	}
	return rate{interval: interval, depth: depth}
}

// take spends one token of b at now. When none is left it returns false and the time until one is.
func (r rate) take(b *Bucket, now int64) (bool, time.Duration) {
	if r.interval == 0 {
		return true, 0
	}
	full := max(b.full, now)
	if ahead := full - now; ahead > r.depth {
		return false, time.Duration(ahead - r.depth)
	}
	b.full = full + r.interval
	return true, 0
}

// TakeLine spends one rate_lines token of a connection's bucket at now (monotonic nanoseconds).
// It is always ok when rate_lines is 0; otherwise, when the bucket is empty, wait is the time
// until the next token.
func (p *Policy) TakeLine(b *Bucket, now int64) (ok bool, wait time.Duration) {
	return p.lines.take(b, now)
}

// TakeDatagram spends one rate_datagrams token of a source's bucket at now (monotonic
// nanoseconds) and reports whether the datagram may be answered.
func (p *Policy) TakeDatagram(b *Bucket, now int64) bool {
	ok, _ := p.datagrams.take(b, now)
	return ok
}

// LinesLimited reports whether rate_lines is set, so the loop can skip the bucket otherwise.
func (p *Policy) LinesLimited() bool { return p.lines.interval != 0 }

// DatagramsLimited reports whether rate_datagrams is set.
func (p *Policy) DatagramsLimited() bool { return p.datagrams.interval != 0 }
