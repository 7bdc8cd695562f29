package listeners

import "time"

// timer is one pending call on the loop goroutine.
type timer struct {
	when  int64 // loop ns (monotonic, since the loop started)
	fn    func()
	index int // in the heap; -1 when not scheduled
}

// timerHeap orders timers by deadline. It is owned by the loop goroutine.
type timerHeap []*timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when < h[j].when }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

func (h timerHeap) next() (int64, bool) {
	if len(h) == 0 {
		return 0, false
	}
	return h[0].when, true
}

// idleWheel finds due connections without a timer per connection: each connection sits in one one-second
// slot and is looked at when that slot comes round; if it is not due yet, it moves to a later slot. The loop
// has two: one for idle_timeout, where every connection sits, and one for line_timeout, where only
// connections with an unfinished line do.
type idleWheel struct {
	slots   [wheelSlots][]*tcpConn
	current int   // slot index of the last tick
	base    int64 // second of that tick (nowNano / 1 s)
}

const wheelSlots = 64

func (w *idleWheel) init(nowNano int64) { w.base = nowNano / int64(time.Second) }

// add puts c in the slot for its deadline (capped to the wheel's span) and returns the second of that slot:
// c comes round when base reaches it.
func (w *idleWheel) add(c *tcpConn, deadline int64) int64 {
	ahead := w.ahead(deadline)
	i := (w.current + int(ahead)) % wheelSlots
	w.slots[i] = append(w.slots[i], c)
	return w.base + ahead
}

// due returns the second of the slot that add would put a deadline in.
func (w *idleWheel) due(deadline int64) int64 { return w.base + w.ahead(deadline) }

// ahead is how many slots past the current one a deadline goes in: 1 to wheelSlots-1.
func (w *idleWheel) ahead(deadline int64) int64 {
	return min(max(deadline/int64(time.Second)+1-w.base, 1), wheelSlots-1)
}

// advance moves the wheel to nowNano and returns the connections whose slots came round.
// The caller re-adds those that are still within their deadline.
func (w *idleWheel) advance(nowNano int64, visit func(c *tcpConn)) {
	sec := nowNano / int64(time.Second)
	for w.base < sec {
		w.base++
		w.current = (w.current + 1) % wheelSlots
		due := w.slots[w.current]
		w.slots[w.current] = nil
		for _, c := range due {
			visit(c) // re-adds go to other slots: ahead is 1..wheelSlots-1
		}
		clear(due)
		w.slots[w.current] = append(due[:0], w.slots[w.current]...) // reuse the array
	}
}
