package listeners

import (
	"slices"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Observation is what one scrape of the HTTP endpoint takes from the loop in one hand-off: the daemon-wide
// part of the snapshot, the state, every serving listener with its counters and the kernel's view of its
// socket, and the loop's own histograms.
type Observation struct {
	Snapshot                 // the daemon-wide fields; Listeners is nil
	Listeners []ListenerView // sorted by name
	Draining  int            // removed TCP listeners whose connections are still served
	Busy      Histogram      // the loop's busy time per wake-up
	Lag       Histogram      // how late its timers fire
}

// ListenerView is one serving listener as a scrape sees it.
type ListenerView struct {
	Name     string
	Protocol string // "tcp" or "udp"
	Mode     string // tcp: line, raw or agent
	Serving  bool   // false while a TCP listener is paused for lack of file descriptors
	Open     int    // TCP connections or active UDP peers
	Counters Counters
	Kernel   KernelView
}

// KernelView is what the kernel says of a listener's socket, read with one getsockopt(2) on the loop when
// the observation is taken: TCP_INFO on a listening socket gives its accept queue (tcpi_unacked) and the
// queue's limit (tcpi_sacked, the backlog as the kernel caps it); SO_MEMINFO on a UDP socket gives the
// datagrams the kernel dropped because the receive buffer was full (SK_MEMINFO_DROPS).
type KernelView struct {
	OK           bool // the getsockopt worked
	ListenQueue  uint32
	ListenLimit  uint32
	ReceiveDrops uint64
}

// Observe takes one Observation through the loop's queue. It reports false when the loop did not run the
// hand-off within timeout (a wedged loop), or has stopped.
func (l *Loop) Observe(timeout time.Duration) (Observation, bool) {
	var o Observation
	ok := l.CallWithin(timeout, func() { o = l.observe() })
	return o, ok
}

// CallWithin runs fn on the loop goroutine like Call, but waits at most timeout; it reports whether fn ran.
// If it did not, fn may still run later: it must not write what the caller reads after a false.
func (l *Loop) CallWithin(timeout time.Duration, fn func()) bool {
	done := make(chan struct{})
	l.Submit(func() { fn(); close(done) })
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-l.done:
	case <-t.C:
	}
	return false
}

// observe builds the Observation on the loop goroutine: one pass over the listeners and one getsockopt for
// each (BenchmarkObserve measures it).
func (l *Loop) observe() Observation {
	o := Observation{Snapshot: l.snapshotHead(), Draining: len(l.draining),
		Busy: l.obs.busy.snapshot(), Lag: l.obs.lag.snapshot()}
	o.Listeners = make([]ListenerView, 0, len(l.tcp)+len(l.udp))
	for name, ln := range l.tcp {
		o.Listeners = append(o.Listeners, ListenerView{Name: name, Protocol: "tcp", Mode: string(ln.pol.Mode),
			Serving: !ln.paused, Open: len(ln.conns), Counters: l.withReloads(ln.stats), Kernel: listenQueue(ln.fd)})
	}
	for name, u := range l.udp {
		o.Listeners = append(o.Listeners, ListenerView{Name: name, Protocol: "udp", Serving: true,
			Open: len(u.peers), Counters: l.withReloads(u.stats), Kernel: receiveDrops(u.fd)})
	}
	slices.SortFunc(o.Listeners, func(a, b ListenerView) int { return strings.Compare(a.Name, b.Name) })
	return o
}

// listenQueue reads TCP_INFO of a listening socket.
func listenQueue(fd int) KernelView {
	var info unix.TCPInfo
	n := uint32(unsafe.Sizeof(info))
	if getsockopt(fd, unix.IPPROTO_TCP, unix.TCP_INFO, unsafe.Pointer(&info), &n) != nil {
		return KernelView{}
	}
	return KernelView{OK: true, ListenQueue: info.Unacked, ListenLimit: info.Sacked}
}

// receiveDrops reads SO_MEMINFO of a UDP socket.
func receiveDrops(fd int) KernelView {
	var mem [unix.SK_MEMINFO_VARS]uint32
	n := uint32(unsafe.Sizeof(mem))
	if getsockopt(fd, unix.SOL_SOCKET, unix.SO_MEMINFO, unsafe.Pointer(&mem), &n) != nil {
		return KernelView{}
	}
	return KernelView{OK: true, ReceiveDrops: uint64(mem[unix.SK_MEMINFO_DROPS])}
}

// getsockopt is getsockopt(2) as a raw system call into the caller's buffer: nothing escapes to the heap
// and the scheduler is not involved (it never blocks).
func getsockopt(fd, level, opt int, val unsafe.Pointer, n *uint32) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(val), uintptr(unsafe.Pointer(n)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}
