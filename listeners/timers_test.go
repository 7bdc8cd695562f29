package listeners

import (
	"math"
	"testing"
	"time"
)

func TestScheduleSaturates(t *testing.T) {
	r := &reactor{nowNano: int64(time.Hour)}
	tm := r.schedule(time.Duration(math.MaxInt64), func() {})
	if tm.when != math.MaxInt64 {
		t.Fatalf("when = %d, want the far future, not a wrapped past", tm.when)
	}
}

func TestOutputQueueSent(t *testing.T) {
	io := &connIO{out: []byte("abcdefgh")}
	io.sent(2) // under half: nothing moves
	if io.head != 2 || string(io.out[io.head:]) != "cdefgh" {
		t.Fatalf("after 2: head %d, queued %q", io.head, io.out[io.head:])
	}
	io.sent(3) // past half: the rest moves down
	if io.head != 0 || string(io.out) != "fgh" || io.queued() != 3 {
		t.Fatalf("after 5: head %d, out %q", io.head, io.out)
	}
	io.sent(3)
	if io.queued() != 0 || len(io.out) != 0 || io.head != 0 {
		t.Fatalf("drained: head %d, out %q", io.head, io.out)
	}
}

// TestIdleWheel checks that a connection comes round at its deadline, and that one with a far deadline is
// looked at again within the wheel's span rather than lost.
func TestIdleWheel(t *testing.T) {
	var w idleWheel
	w.init(0)
	near, far := &tcpConn{}, &tcpConn{}
	nearDue := w.add(near, int64(3*time.Second))
	farDue := w.add(far, int64(1000*time.Second))
	if d := w.due(int64(3 * time.Second)); d != nearDue {
		t.Errorf("due = %d, add returned %d", d, nearDue)
	}
	seen := map[*tcpConn]int64{}
	for s := int64(1); s <= wheelSlots+1; s++ {
		w.advance(s*int64(time.Second), func(c *tcpConn) {
			if _, ok := seen[c]; !ok {
				seen[c] = s
			}
		})
	}
	if seen[near] != 4 || nearDue != 4 {
		t.Errorf("near connection came round at %ds (add said %ds), want 4s (deadline 3s, rounded up)",
			seen[near], nearDue)
	}
	if s := seen[far]; s == 0 || s > wheelSlots || s != farDue {
		t.Errorf("far connection came round at %ds (add said %ds), want within the %d s span", s, farDue,
			wheelSlots)
	}
}
