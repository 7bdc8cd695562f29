package listeners

import (
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"echogate/policy"
)

// handler is anything registered in the epoll set: a listening socket, a connection, a UDP socket, the wake fd.
type handler interface {
	onEvent(l *Loop, events uint32)
	// shutdown is told that the loop stops. When graceful, a connection ends without losing what it was
	// answered (it lingers); otherwise it closes now. Listening and UDP sockets are closed by the Loop through
	// its listener maps, and the waker by closeAll, so theirs do nothing.
	shutdown(l *Loop, graceful bool)
}

// Options tune a Loop. A zero value is not the config default: it means off, or at once, unless a field says
// otherwise. StatsInterval, UDPPeerWindow, DrainTimeout, ShutdownGrace and LogRefusalsEvery are replaced by
// the [daemon] settings at every Apply, so the values given to New last only until the first one.
type Options struct {
	Logger *slog.Logger // nil discards the loop's logs
	// Version and StartedAt describe the daemon in /stats json.
	Version       string
	StartedAt     time.Time
	StatsInterval time.Duration // periodic stats log line; 0 = off
	UDPPeerWindow time.Duration // how long a UDP peer counts as active; 0 = config.DefaultUDPPeerWindow
	DrainTimeout  time.Duration // connections of a removed listener are closed after this; 0 = at once
	ShutdownGrace time.Duration // how long a graceful stop may take to flush connections; 0 = no wait
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
	// most (see refusals.go); 0 = config.DefaultLogRefusalsEvery.
	LogRefusalsEvery time.Duration
	// LogsDropped, when set, reports how many log lines were lost to a full log queue, for /stats json. It
	// is called on the loop goroutine and must not block.
	LogsDropped func() uint64
}

// Loop is the single event loop: the server (listeners, buffers, stats, lockout, refusals, the Submit queue)
// over its reactor (the poller, reactor.go). Everything it owns is touched only by the goroutine running Run;
// other goroutines hand it work through Submit.
type Loop struct {
	reactor // epoll, timers, wheels, the again list (reactor.go); the rest is the server's state

	opts Options
	log  *slog.Logger

	queueMu   sync.Mutex
	queue     []func()
	closed    bool          // under queueMu: Run has returned, Submit drops work
	signaling atomic.Int32  // submitters between the queue and the waker's signal (submit)
	done      chan struct{} // closed when Run returns

	readBuf  []byte  // one read buffer for every connection
	pool     bufPool // output and held input
	linePool bufPool // unfinished lines
	udpIO    *udpBatch

	udpScratch []byte // command replies for datagrams are built here
	freeIO     []*connIO
	acceptSA   unix.RawSockaddrAny
	spare      spareFD

	tcp      map[string]*tcpListener
	udp      map[string]*udpEndpoint
	draining map[*tcpListener]struct{}
	stats    *Stats
	lockout  *policy.Lockout
	refusals refusals // summary lines of what remote peers were refused

	guards    udpGuards      // UDP echo-loop rules (udp_guard.go)
	hs        handshakes     // the TLS handshake pool (tls_handshake.go)
	statsJSON statsJSONCache // the last /stats json (stats_json.go)
	obs       observed       // the daemon's state and the loop's timing (state.go)

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
	l := &Loop{
		pool:     bufPool{size: poolBufSize},
		linePool: bufPool{size: lineBufSize},
		done:     make(chan struct{}),
		opts:     opts,
		log:      opts.Logger,
		readBuf:  make([]byte, readBufSize),
		tcp:      make(map[string]*tcpListener),
		udp:      make(map[string]*udpEndpoint),
		draining: make(map[*tcpListener]struct{}),
		stats:    newStats(),
		lockout:  policy.NewLockout(policy.DefaultShutdownFailures, policy.DefaultShutdownWindow, policy.DefaultShutdownBan, 0),
		spare:    newSpareFD(),
		guards:   udpGuards{lookAgain: make(chan struct{}, 1)},
	}
	l.obs.init()
	l.hs.resize(0)
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

// readBufSize is how much one read(2) takes at most.
const readBufSize = 64 << 10

// Submit queues fn to run on the loop goroutine and wakes the loop. It is safe from any goroutine.
func (l *Loop) Submit(fn func()) { l.submit(fn) }

// submit is Submit; it reports false, dropping fn, when the loop is gone. It signals the waker after the lock:
// signalled under it, the loop woke while the submitter still held the lock, found it taken and parked its
// goroutine, which costs two more thread switches; measured once per TLS connection at 200 handshakes a
// second, and worse, a TLS thread is at the lowest priority, so the loop waited for whenever the kernel let
// that thread run again. signaling keeps the waker open until every signal is sent (closeAll).
func (l *Loop) submit(fn func()) bool {
	l.queueMu.Lock()
	if l.closed {
		l.queueMu.Unlock()
		return false // the loop is gone; its eventfd may already be another file's number
	}
	l.queue = append(l.queue, fn)
	l.signaling.Add(1)
	l.queueMu.Unlock()
	l.wake.signal()
	l.signaling.Add(-1)
	return true
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
		evs, err := l.wait()
		if err != nil {
			l.closeAll()
			return err
		}
		for i := range evs {
			ev := &evs[i]
			if h := l.handlerFor(int(ev.Fd)); h != nil {
				h.onEvent(l, ev.Events)
			}
		}
		l.runAgain()
		l.runTimers(&l.obs.lag)
		l.recordBusy()
	}
	l.flushRefusals(true)
	l.closeAll()
	return l.stopErr
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

// closeAll closes every socket the loop owns (inherited sockets only leave the set) and the epoll fd, and waits
// for the TLS connections it handed to threads to end (tls_close.go).
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
		h.shutdown(l, false)
		l.fds.set(fd, nil)
	})
	l.spare.release()
	l.queueMu.Lock()
	l.closed = true
	l.queue = nil
	l.queueMu.Unlock()
	for l.signaling.Load() > 0 { // a submitter that queued before closed was set signals the waker still
		runtime.Gosched()
	}
	l.wake.close()
	l.closeEpoll()
	l.waitTLSCloses()
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

// runAgain gives each connection on the again list one more turn. One that still has input left after it
// goes on the list for the next turn, after a look at new events, so a busy connection cannot starve the
// others.
func (l *Loop) runAgain() {
	if len(l.again) == 0 {
		return
	}
	list := l.takeAgain()
	for i, c := range list {
		list[i] = nil
		c.queuedRead = false
		if c.state != connClosed {
			c.onEvent(l, 0)
		}
	}
	l.doneAgain(list)
}
