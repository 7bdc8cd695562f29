package listeners

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Observation is what one scrape of the HTTP endpoint takes from the loop in one hand-off: the daemon-wide
// part of the snapshot, the state, every serving listener with its counters, and the loop's own histograms;
// then, off the loop, the kernel's view of each listener's socket.
type Observation struct {
	Snapshot                 // the daemon-wide fields; Listeners is nil
	Listeners []ListenerView // in no particular order
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
	fd       int
}

// KernelView is what the kernel says of a listener's socket, read with one getsockopt(2) per socket by the
// goroutine that asked for the observation, not by the loop (at 1 000 listeners the calls took the loop
// 1-2 ms a scrape): TCP_INFO on a listening socket gives its accept queue (tcpi_unacked) and the
// queue's limit (tcpi_sacked, the backlog as the kernel caps it); SO_MEMINFO on a UDP socket gives the
// datagrams the kernel dropped because the receive buffer was full (SK_MEMINFO_DROPS).
type KernelView struct {
	OK           bool // the getsockopt worked
	ListenQueue  uint32
	ListenLimit  uint32
	ReceiveDrops uint64
}

// Observe takes one Observation through the loop's queue, then reads the kernel's view of the sockets. It
// reports false when the loop did not run the hand-off within timeout (a wedged loop), or has stopped.
func (l *Loop) Observe(timeout time.Duration) (Observation, bool) {
	var o Observation
	var closes uint64
	// The list is made here, not on the loop, as long as the last one: zeroing megabytes for 10 000
	// listeners was most of the loop's time.
	views := make([]ListenerView, 0, l.obs.lastViews.Load()+16)
	if !l.CallWithin(timeout, func() { o, closes = l.observe(views), l.obs.closes.Load() }) {
		return Observation{}, false
	}
	for i := range o.Listeners {
		v := &o.Listeners[i]
		if v.Protocol == "tcp" {
			v.Kernel = listenQueue(v.fd)
		} else {
			v.Kernel = receiveDrops(v.fd)
		}
	}
	if l.obs.closes.Load() != closes { // an fd may have named another socket: this scrape has no kernel view
		for i := range o.Listeners {
			o.Listeners[i].Kernel = KernelView{}
		}
	}
	return o, true
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

// observe builds the Observation on the loop goroutine: one pass over the listeners, copying their counters
// (BenchmarkObserve measures it). Sorting is left to the reader.
func (l *Loop) observe(views []ListenerView) Observation {
	o := Observation{Snapshot: l.snapshotHead(), Draining: len(l.draining),
		Busy: l.obs.busy.snapshot(), Lag: l.obs.lag.snapshot(), Listeners: views[:0]}
	l.obs.lastViews.Store(int64(len(l.tcp) + len(l.udp)))
	for name, ln := range l.tcp {
		o.Listeners = append(o.Listeners, ListenerView{Name: name, Protocol: "tcp", Mode: string(ln.pol.Mode),
			Serving: !ln.paused, Open: len(ln.conns), Counters: l.withReloads(ln.stats), fd: ln.fd})
	}
	for name, u := range l.udp {
		o.Listeners = append(o.Listeners, ListenerView{Name: name, Protocol: "udp", Serving: true,
			Open: len(u.peers), Counters: l.withReloads(u.stats), fd: u.fd})
	}
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

// getsockopt is getsockopt(2) into the caller's buffer, without an allocation.
func getsockopt(fd, level, opt int, val unsafe.Pointer, n *uint32) error {
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(val), uintptr(unsafe.Pointer(n)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}
