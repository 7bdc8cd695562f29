package listeners

import (
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"echogate/internal/logmsg"
)

// Handshakes run on their own OS threads, at the kernel's lowest scheduling class (SCHED_IDLE), so that the
// loop thread, woken by a packet, always takes the CPU from a computing handshake at once. With every thread
// at one priority, the kernel lets a running handshake finish its time slice first, and a plain listener's
// round trip waited up to a whole handshake (about 1 ms) behind it. SCHED_IDLE threads still get a share of a
// CPU that normal tasks keep busy (small, but never none, so a handshake on a saturated host is slow, not
// lost: tls_handshake_timeout still bounds it), and all of an idle CPU.
//
// A thread cannot be given its priority back without CAP_SYS_NICE, so a handshake thread is never handed back
// to Go's scheduler: its goroutine stays locked to it and, when it exits, the runtime ends the thread. To
// spare a thread's creation per handshake, a thread that finishes one takes the next that is waiting, and
// exits after handshakeThreadIdle without work. Threads are at most the handshakes in flight (bounded by
// tls_handshake_workers × handshakeQueuePerWorker), since each runs one handshake at a time.

// The same threads also end TLS connections (tls_close.go): the last send and the close are, on loopback, the
// costliest part of a short connection's time on the loop.

// handshakeThreadIdle is how long a TLS thread waits for the next job before it exits.
const handshakeThreadIdle = 10 * time.Second

// tlsJob is work for a TLS thread: a handshake, or the end of a connection.
type tlsJob interface {
	run(l *Loop)
}

// tlsThreads hands jobs to idle TLS threads, or starts one.
type tlsThreads struct {
	work    chan tlsJob // unbuffered: a send succeeds only when a thread waits for work
	refused atomic.Bool // the kernel refused SCHED_IDLE once (it is logged once)
}

// run runs j on an idle TLS thread, or on a new one.
func (p *tlsThreads) run(l *Loop, j tlsJob) {
	if p.work == nil {
		p.work = make(chan tlsJob)
	}
	select {
	case p.work <- j:
	default:
		go p.thread(l, j, p.work)
	}
}

// thread locks its goroutine to a new OS thread at low priority and runs jobs on it until it has waited
// handshakeThreadIdle for one. It never unlocks the thread, so the thread ends with the goroutine.
func (p *tlsThreads) thread(l *Loop, j tlsJob, work chan tlsJob) {
	runtime.LockOSThread()
	if err := lowerThreadPriority(); err != nil && !p.refused.Swap(true) {
		l.log.Warn(logmsg.NoIdlePriority, "err", err)
	}
	idle := time.NewTimer(handshakeThreadIdle)
	defer idle.Stop()
	for {
		j.run(l)
		idle.Reset(handshakeThreadIdle)
		select {
		case j = <-work:
		case <-idle.C:
			return
		}
	}
}

// lowerThreadPriority puts the calling thread in SCHED_IDLE. Should the kernel refuse (a seccomp filter
// without sched_setattr, say), the handshake runs at normal priority: isolation is lost, nothing else; the
// first refusal is logged.
func lowerThreadPriority() error {
	attr := unix.SchedAttr{Policy: unix.SCHED_IDLE}
	attr.Size = uint32(unsafe.Sizeof(attr))
	return os.NewSyscallError("sched_setattr SCHED_IDLE", unix.SchedSetAttr(0, &attr, 0))
}

// After a burst of handshakes the heap holds their garbage (tens of KiB each), and Go keeps the pages it
// grew for it until the next collection, which an idle daemon never reaches: 2 000 idle TLS connections
// measured 8.3–10.9 KiB of RSS each where their live heap is 3.6 KiB. So once handshakes have been quiet for
// trimQuiet after at least trimAfterHandshakes of them, echogate collects and gives the free pages back to
// the kernel, off the loop, at most once per trimEvery.
const (
	trimAfterHandshakes = 256
	trimQuiet           = 500 * time.Millisecond
	trimEvery           = 10 * time.Second
)

// memoryTrim is the loop's record of handshakes since the last trim. Times are the loop's clock (nowNano).
type memoryTrim struct {
	done      int   // handshakes finished since the last trim
	lastStart int64 // of the latest handshake
	lastTrim  int64
	trimmed   bool        // lastTrim is set
	armed     bool        // a check is scheduled
	running   atomic.Bool // a trim is under way
	free      func()      // debug.FreeOSMemory unless a test sets another
}

// started notes a handshake's start.
func (m *memoryTrim) started(now int64) { m.lastStart = now }

// handshakeFinished notes a handshake's end and schedules a check when a burst may be over.
func (l *Loop) handshakeFinished() {
	m := &l.hs.trim
	m.done++
	if m.done >= trimAfterHandshakes && !m.armed {
		m.armed = true
		l.schedule(trimQuiet, l.trimIfQuiet)
	}
}

// trimIfQuiet gives free memory back if no handshake started for trimQuiet, or checks again later.
func (l *Loop) trimIfQuiet() {
	m := &l.hs.trim
	now := l.nowNano
	wait := trimQuiet - time.Duration(now-m.lastStart)
	if m.trimmed {
		wait = max(wait, trimEvery-time.Duration(now-m.lastTrim))
	}
	if l.hs.inFlight > 0 {
		wait = max(wait, trimQuiet)
	}
	if wait > 0 {
		l.schedule(wait, l.trimIfQuiet)
		return
	}
	m.armed, m.done, m.lastTrim, m.trimmed = false, 0, now, true
	if m.free == nil {
		m.free = debug.FreeOSMemory
	}
	if m.running.CompareAndSwap(false, true) {
		go func() {
			defer m.running.Store(false)
			m.free()
		}()
	}
}
