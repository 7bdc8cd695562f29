package listeners

import (
	"container/heap"
	"errors"
	"math"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// reactor is the poller under the Loop: the epoll fd and the table of who handles each fd, the eventfd that
// wakes it, the loop's clock, its timers and timing wheels, and the list of connections to read again before
// the next wait. It knows nothing of listeners, policies or stats; those are the Loop's (loop.go). Like the
// rest of the Loop, it is touched only by the goroutine running Run.
type reactor struct {
	epfd   int
	wake   *waker
	fds    fdTable
	events []unix.EpollEvent
	sparse int // wake-ups in a row that used under a quarter of events (see wait)

	start   time.Time // the loop's time origin
	nowNano int64     // monotonic ns since start, cached at every wake-up: every timer and limit uses it

	timers    timerHeap
	idle      idleWheel  // idle_timeout
	lines     idleWheel  // line_timeout: only connections with an unfinished line are in it
	again     []*tcpConn // connections to read again before the next wait (see readAgain)
	againNext []*tcpConn
}

// The epoll event buffer starts at eventsMin, doubles while a wake-up fills it (up to eventsMax), and halves
// after eventsShrinkAfter wake-ups in a row that used under a quarter of it, as gnet's does: a burst of
// 100 000 connections does not keep a 4096-event buffer for the rest of the loop's life.
const (
	eventsMin         = 256
	eventsMax         = 4096
	eventsShrinkAfter = 128
)

// open creates the epoll fd and the waker, and puts the waker in the epoll set.
func (r *reactor) open() error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	r.epfd = epfd
	r.events = make([]unix.EpollEvent, eventsMin)
	r.start = time.Now()
	r.updateNow()
	r.idle.init(r.nowNano)
	r.lines.init(r.nowNano)
	if r.wake, err = newWaker(); err != nil {
		_ = unix.Close(epfd)
		return err
	}
	if err := r.register(r.wake.fd, unix.EPOLLIN, r.wake); err != nil {
		r.wake.close()
		_ = unix.Close(epfd)
		return err
	}
	return nil
}

// wait blocks in epoll_wait until an event comes or the next timer is due, updates the clock, and returns the
// events. EINTR returns no events and no error.
func (r *reactor) wait() ([]unix.EpollEvent, error) {
	n, err := epollWaitRaw(r.epfd, r.events, r.waitMillis())
	if err != nil && !errors.Is(err, unix.EINTR) {
		return nil, os.NewSyscallError("epoll_wait", err)
	}
	r.updateNow()
	n = max(n, 0)
	evs := r.events[:n]
	r.fitEvents(n) // evs keeps the old buffer if it is replaced
	return evs, nil
}

// fitEvents sizes the event buffer after a wake-up that returned n events: it doubles a buffer that was filled
// and halves one that has been mostly empty for eventsShrinkAfter wake-ups in a row.
func (r *reactor) fitEvents(n int) {
	switch {
	case n == len(r.events) && n < eventsMax:
		r.events, r.sparse = make([]unix.EpollEvent, 2*n), 0
	case n < len(r.events)/4 && len(r.events) > eventsMin:
		if r.sparse++; r.sparse >= eventsShrinkAfter {
			r.events, r.sparse = make([]unix.EpollEvent, len(r.events)/2), 0
		}
	default:
		r.sparse = 0
	}
}

func (r *reactor) updateNow() {
	// monotonic, so a stepped wall clock moves no timer; one clock read, where time.Now takes two
	r.nowNano = int64(time.Since(r.start))
}

// waitMillis is the epoll_wait timeout: the time to the next timer, rounded up.
func (r *reactor) waitMillis() int {
	if len(r.again) > 0 {
		return 0 // connections wait to be read again: only look for new events
	}
	next, ok := r.timers.next()
	if !ok {
		return -1
	}
	d := next - r.nowNano // as of this wake-up: handlers take microseconds, timers are coarser
	if d <= 0 {
		return 0
	}
	return int((d + int64(time.Millisecond) - 1) / int64(time.Millisecond))
}

func (r *reactor) handlerFor(fd int) handler { return r.fds.get(fd) }

func (r *reactor) setHandler(fd int, h handler) { r.fds.set(fd, h) }

// register adds fd to the epoll set with the given interest and remembers its handler.
func (r *reactor) register(fd int, events uint32, h handler) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl add", err)
	}
	r.fds.set(fd, h)
	return nil
}

// modify changes the interest of a registered fd.
func (r *reactor) modify(fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl mod", err)
	}
	return nil
}

// unregister removes fd from the epoll set and forgets its handler; it does not close it. An fd that was not
// in the set is no error.
func (r *reactor) unregister(fd int) error {
	r.fds.set(fd, nil)
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil && !errors.Is(err, unix.ENOENT) {
		return os.NewSyscallError("epoll_ctl del", err)
	}
	return nil
}

// closeEpoll closes the epoll fd. The waker is closed by the Loop, once no Submit can signal it (closeAll).
func (r *reactor) closeEpoll() { unix.Close(r.epfd) }

// readAgain puts c on the list of connections the loop reads again before its next wait. Connections are
// edge-triggered: one that stopped reading with input left (its fairness budget ran out, or backpressure has
// just cleared) gets no new event for that input, so the loop comes back to it by itself.
func (r *reactor) readAgain(c *tcpConn) {
	if !c.queuedRead {
		c.queuedRead = true
		r.again = append(r.again, c)
	}
}

// takeAgain returns the connections to read again now and starts an empty list for those that will still have
// input left after their turn; doneAgain gives the returned list back for reuse.
func (r *reactor) takeAgain() []*tcpConn {
	list := r.again
	r.again = r.againNext[:0]
	return list
}

func (r *reactor) doneAgain(list []*tcpConn) { r.againNext = list[:0] }

// schedule runs fn once after d.
func (r *reactor) schedule(d time.Duration, fn func()) *timer {
	when := r.nowNano + int64(d)
	if when < r.nowNano { // a duration of centuries: saturate rather than wrap into the past
		when = math.MaxInt64
	}
	t := &timer{when: when, fn: fn, index: -1}
	heap.Push(&r.timers, t)
	return t
}

// every runs fn at a fixed interval for as long as the loop runs.
func (r *reactor) every(d time.Duration, fn func()) {
	var tick func()
	tick = func() {
		fn()
		r.schedule(d, tick)
	}
	r.schedule(d, tick)
}

// cancel removes a timer that has not fired yet.
func (r *reactor) cancel(t *timer) {
	if t != nil && t.index >= 0 {
		heap.Remove(&r.timers, t.index)
	}
}

// runTimers fires every timer that is due, and counts in lag how late each one is, by the clock as the
// timers start (the events before them count).
func (r *reactor) runTimers(lag *loopHist) {
	if len(r.timers) == 0 || r.timers[0].when > r.nowNano {
		return
	}
	now := int64(time.Since(r.start))
	for len(r.timers) > 0 && r.timers[0].when <= r.nowNano {
		t := heap.Pop(&r.timers).(*timer)
		lag.observe(now - t.when)
		t.fn()
	}
}
