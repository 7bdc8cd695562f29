package listeners

import (
	"errors"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"echogate/policy"
)

// handler is anything registered in the epoll set: a listening socket, a connection, a UDP socket, the wake fd.
type handler interface {
	onEvent(l *Loop, events uint32)
}

// Options tune a Loop. Zero values mean the config defaults.
type Options struct {
	Logger *slog.Logger
	// Version and StartedAt describe the daemon in /stats json.
	Version       string
	StartedAt     time.Time
	StatsInterval time.Duration // periodic stats log line; 0 = off
	UDPPeerWindow time.Duration // how long a UDP peer counts as active
	DrainTimeout  time.Duration // connections of a removed listener are closed after this
	ShutdownGrace time.Duration // how long a graceful stop may take to flush connections
	// WatchdogEvery, when non-zero, calls Watchdog from the loop goroutine at that interval, so a wedged loop
	// stops the pings.
	WatchdogEvery time.Duration
	Watchdog      func()
	// OnStats, when set, is called on the loop goroutine every stats_interval with the open TCP connections
	// and active UDP peers (for systemd's STATUS=).
	OnStats func(tcp, udp int)
	// OnShutdown is called on the loop goroutine when an admin /shutdown is accepted.
	OnShutdown func(peer string)
	// LogRefusalsEvery is how often refusals of one reason on one listener are summarised in the log, at
	// most (see refusals.go).
	LogRefusalsEvery time.Duration
	// LogsDropped, when set, reports how many log lines were lost to a full log queue, for /stats json. It
	// is called on the loop goroutine and must not block.
	LogsDropped func() uint64
}

// Loop is the single event loop. Everything it owns is touched only by the goroutine running Run; other
// goroutines hand it work through Submit.
type Loop struct {
	opts   Options
	log    *slog.Logger
	epfd   int
	wake   *waker
	fds    fdTable
	events []unix.EpollEvent

	queueMu sync.Mutex
	queue   []func()
	closed  bool          // under queueMu: Run has returned, Submit drops work
	done    chan struct{} // closed when Run returns

	start   time.Time // the loop's time origin
	nowNano int64     // monotonic ns since start, cached at every wake-up: every timer and limit uses it

	readBuf  []byte  // one read buffer for every connection
	pool     bufPool // output and held input
	linePool bufPool // unfinished lines
	timers   timerHeap
	idle     idleWheel // idle_timeout
	lines    idleWheel // line_timeout: only connections with an unfinished line are in it
	udpIO    *udpBatch

	udpScratch []byte // command replies for datagrams are built here
	freeIO     []*connIO
	again      []*tcpConn // connections to read again before the next wait (see readAgain)
	againNext  []*tcpConn
	acceptSA   unix.RawSockaddrAny
	spare      spareFD

	tcp      map[string]*tcpListener
	udp      map[string]*udpEndpoint
	draining map[*tcpListener]struct{}
	stats    *Stats
	lockout  *policy.Lockout
	refusals refusals // summary lines of what remote peers were refused

	guards    udpGuards      // UDP echo-loop rules (udp_guard.go)
	statsJSON statsJSONCache // the last /stats json (stats_json.go)

	stopping bool
	stopAt   int64 // nowNano when the graceful stop began
	stopped  bool
	stopErr  error
}

// New creates a loop with its epoll fd and wake-up eventfd. Call Run to start it.
func New(opts Options) (*Loop, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	l := &Loop{
		start:    time.Now(),
		pool:     bufPool{size: poolBufSize},
		linePool: bufPool{size: lineBufSize},
		done:     make(chan struct{}),
		opts:     opts,
		log:      opts.Logger,
		epfd:     epfd,
		events:   make([]unix.EpollEvent, 256),
		readBuf:  make([]byte, readBufSize),
		tcp:      make(map[string]*tcpListener),
		udp:      make(map[string]*udpEndpoint),
		draining: make(map[*tcpListener]struct{}),
		stats:    newStats(),
		lockout:  policy.NewLockout(policy.DefaultShutdownFailures, policy.DefaultShutdownWindow, policy.DefaultShutdownBan, 0),
		spare:    newSpareFD(),
		guards:   udpGuards{lookAgain: make(chan struct{}, 1)},
	}
	l.updateNow()
	l.idle.init(l.nowNano)
	l.lines.init(l.nowNano)
	if l.wake, err = newWaker(); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err := l.register(l.wake.fd, unix.EPOLLIN, l.wake); err != nil {
		l.wake.close()
		unix.Close(epfd)
		return nil, err
	}
	return l, nil
}

// readBufSize is how much one read(2) takes at most.
const readBufSize = 64 << 10

// Submit queues fn to run on the loop goroutine and wakes the loop. It is safe from any goroutine.
func (l *Loop) Submit(fn func()) {
	l.queueMu.Lock()
	defer l.queueMu.Unlock()
	if l.closed {
		return // the loop is gone; its eventfd may already be another file's number
	}
	l.queue = append(l.queue, fn)
	l.wake.signal()
}

// Call runs fn on the loop goroutine and waits for it to finish. It must not be called from the loop itself.
// If the loop stops first, Call returns without running fn.
func (l *Loop) Call(fn func()) {
	done := make(chan struct{})
	l.Submit(func() { fn(); close(done) })
	select {
	case <-done:
	case <-l.done:
	}
}

// Run serves until the loop is stopped, then closes everything it owns. It locks its goroutine to one OS thread.
func (l *Loop) Run() error {
	ensureSpareP()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l.schedule(time.Second, l.tick)
	go l.watchHostAddrs()
	if l.opts.WatchdogEvery > 0 && l.opts.Watchdog != nil {
		l.opts.Watchdog()
		l.every(l.opts.WatchdogEvery, l.opts.Watchdog)
	}
	l.scheduleStats()
	for !l.stopped {
		n, err := epollWaitRaw(l.epfd, l.events, l.waitMillis())
		if err != nil && !errors.Is(err, unix.EINTR) {
			l.closeAll()
			return os.NewSyscallError("epoll_wait", err)
		}
		l.updateNow()
		for i := 0; i < n; i++ {
			ev := &l.events[i]
			if h := l.handlerFor(int(ev.Fd)); h != nil {
				h.onEvent(l, ev.Events)
			}
		}
		if n == len(l.events) && n < 4096 {
			l.events = make([]unix.EpollEvent, 2*n)
		}
		l.runAgain()
		l.runTimers()
	}
	l.flushRefusals(true)
	l.closeAll()
	return l.stopErr
}

func (l *Loop) updateNow() {
	// monotonic, so a stepped wall clock moves no timer; one clock read, where time.Now takes two
	l.nowNano = int64(time.Since(l.start))
}

// waitMillis is the epoll_wait timeout: the time to the next timer, rounded up.
func (l *Loop) waitMillis() int {
	if len(l.again) > 0 {
		return 0 // connections wait to be read again: only look for new events
	}
	next, ok := l.timers.next()
	if !ok {
		return -1
	}
	d := next - l.nowNano // as of this wake-up: handlers take microseconds, timers are coarser
	if d <= 0 {
		return 0
	}
	return int((d + int64(time.Millisecond) - 1) / int64(time.Millisecond))
}

// drainQueue runs the functions other goroutines submitted.
func (l *Loop) drainQueue() {
	l.queueMu.Lock()
	q := l.queue
	l.queue = nil
	l.queueMu.Unlock()
	for _, fn := range q {
		fn()
	}
}

func (l *Loop) handlerFor(fd int) handler { return l.fds.get(fd) }

func (l *Loop) setHandler(fd int, h handler) { l.fds.set(fd, h) }

// register adds fd to the epoll set with the given interest and remembers its handler.
func (l *Loop) register(fd int, events uint32, h handler) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl add", err)
	}
	l.fds.set(fd, h)
	return nil
}

// modify changes the interest of a registered fd.
func (l *Loop) modify(fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl mod", err)
	}
	return nil
}

// unregister removes fd from the epoll set; it does not close it.
func (l *Loop) unregister(fd int) {
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil && !errors.Is(err, unix.ENOENT) {
		l.log.Warn("epoll_ctl del failed", "fd", fd, "err", err)
	}
	l.fds.set(fd, nil)
}

// closeAll closes every socket the loop owns (inherited sockets only leave the set) and the epoll fd.
func (l *Loop) closeAll() {
	for _, ln := range l.tcp {
		ln.detach(l)
		ln.closeSocket()
	}
	for _, u := range l.udp {
		u.detach(l)
		u.closeSocket()
	}
	l.fds.each(func(fd int, h handler) {
		if c, ok := h.(*tcpConn); ok {
			c.close(l, "shutdown")
		}
		l.fds.set(fd, nil)
	})
	l.spare.release()
	l.queueMu.Lock()
	l.closed = true
	l.queue = nil
	l.wake.close()
	l.queueMu.Unlock()
	unix.Close(l.epfd)
	close(l.done)
}

// ensureSpareP makes sure the Go scheduler has a processor (P) besides the loop's. While the loop sleeps in
// epoll_wait, the runtime's monitor takes the loop's P away after 20 µs unless another P is idle, and handing it
// back costs a futex wake-up and a thread switch on every wake of the loop. Pinned to one CPU (taskset, or
// systemd's CPUAffinity=), Go would pick GOMAXPROCS=1, so the floor is 2. Measured with make bench on one
// pinned CPU, this cut CPU per round trip by 10-20%.
func ensureSpareP() {
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
}

// readAgain puts c on the list of connections the loop reads again before its next wait. Connections are
// edge-triggered: one that stopped reading with input left (its fairness budget ran out, or backpressure has
// just cleared) gets no new event for that input, so the loop comes back to it by itself.
func (l *Loop) readAgain(c *tcpConn) {
	if !c.queuedRead {
		c.queuedRead = true
		l.again = append(l.again, c)
	}
}

// runAgain gives each connection on the again list one more turn. One that still has input left after it
// goes on the list for the next turn, after a look at new events, so a busy connection cannot starve the
// others.
func (l *Loop) runAgain() {
	if len(l.again) == 0 {
		return
	}
	list := l.again
	l.again = l.againNext[:0]
	for i, c := range list {
		list[i] = nil
		c.queuedRead = false
		if !c.closed {
			c.onEvent(l, 0)
		}
	}
	l.againNext = list[:0]
}
