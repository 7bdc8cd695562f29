package listeners

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"echogate/internal/logmsg"
)

// TLS handshakes run off the loop. A handshake is CPU work (an ECDSA signature and a key exchange, about
// 0.7 ms of server CPU on the bench machine) between reads that may wait a round trip or, for a client that
// stalls, forever. So each handshake is a goroutine that waits for the client on Go's poller (through a duplicate
// of the socket) holding nothing, and computes only while it holds one of tls_handshake_workers slots: a slot
// is given back whenever a read or write would block and taken again when the socket is ready. N silent
// clients cost N parked goroutines (a few KiB each) and no slot; the CPU spent on handshakes is bounded by
// the slots, and the loop thread, which never computes a handshake, keeps serving. A handshake that is not
// done tls_handshake_timeout after its accept is cut. At most handshakeQueuePerWorker handshakes per slot
// are in flight (computing, waiting for a slot, or waiting for their client); a connection beyond that is
// closed at once and counted in tls_refused. When the handshake is done, the loop takes the socket back and
// registers it like a plain connection, with its tls.Conn (transport_tls.go).

// handshakeQueuePerWorker bounds the handshakes in flight per slot. A handshake is in flight for about a
// round trip and a half: at 256 per slot, two slots hold a burst of 512 clients, or keep up with 2 500 new
// clients a second over 100 ms round trips, in about 8 MiB of parked goroutines.
const handshakeQueuePerWorker = 256

// handshakes is the loop's side of the handshake pool.
type handshakes struct {
	slots    chan struct{} // a token per handshake computing now; replaced when tls_handshake_workers changes
	workers  int
	inFlight int // accepted, not yet done
	threads  tlsThreads
	closes   tlsCloses // connections the TLS threads are ending (tls_close.go)
	trim     memoryTrim
}

// resize sets the number of slots (0 = the number of CPUs). Handshakes in flight finish on the old slots.
func (h *handshakes) resize(n int) {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	if n != h.workers || h.slots == nil {
		h.workers, h.slots = n, make(chan struct{}, n)
	}
}

// full reports whether another handshake would be one too many in flight.
func (h *handshakes) full() bool { return h.inFlight >= h.workers*handshakeQueuePerWorker }

// handshake is one TLS handshake in flight. Its goroutine owns it until it hands it to the loop.
type handshake struct {
	ln       *tcpListener
	fd       int // the loop's socket: not in the epoll set until the handshake is done
	peer     netip.AddrPort
	config   *tls.Config // the listener's when it accepted: a reload during the handshake does not change it
	state    *tlsState
	slots    chan struct{}
	held     bool // holds a slot
	deadline time.Time
	file     *os.File // a duplicate of fd on Go's poller, for the handshake's waits
	raw      syscall.RawConn
	err      error
}

// errHandshakeTimeout is a handshake that tls_handshake_timeout cut.
var errHandshakeTimeout = errors.New("tls_handshake_timeout reached")

// replyTLSRequired answers a client that sent something other than a TLS handshake: a plain-text client (nc,
// telnet) learns why it gets nothing, and a TLS client never sees it.
var replyTLSRequired = []byte("ERR tls-required\n")

// startHandshake hands an admitted connection of a TLS listener to the pool, or refuses it when the pool's
// queue is full. The connection counts against max_conns and max_conns_per_ip from here.
func (l *Loop) startHandshake(ln *tcpListener, fd int, peer netip.AddrPort) {
	if l.hs.full() {
		ln.stats.TLSRefused++
		_ = unix.Close(fd)
		l.refused(ln.name, reasonTLSQueue, peer)
		return
	}
	h := &handshake{ln: ln, fd: fd, peer: peer, slots: l.hs.slots, config: ln.pol.TLS,
		deadline: time.Now().Add(max(ln.pol.HandshakeTimeout, 100*time.Millisecond))}
	h.state = &tlsState{wire: tlsWire{fd: fd, hs: h, pool: &l.pool}} // its tls.Conn is made by the TLS thread
	l.hs.inFlight++
	l.hs.trim.started(l.nowNano)
	ln.handshaking++
	ln.perIP[peer.Addr()]++
	l.hs.threads.run(l, h)
}

// run does the handshake and gives the outcome to the loop. A socket whose handshake failed is closed here,
// off the loop (the loop never had it in its epoll set), as is every socket should the loop be gone.
func (h *handshake) run(l *Loop) {
	if h.err = h.do(); h.err != nil {
		_ = unix.Close(h.fd)
	}
	if !l.submit(func() { l.handshakeDone(h) }) && h.err == nil {
		_ = unix.Close(h.fd)
	}
}

// do runs the handshake on a duplicate of the socket registered with Go's poller, within the deadline.
func (h *handshake) do() error {
	defer h.release()
	// Made here rather than at the accept: each is an allocation (the tls.Conn is about 1 KiB to clear) that
	// the loop need not pay for.
	h.state.wire.addr = net.TCPAddrFromAddrPort(h.peer)
	h.state.conn = tls.Server(&h.state.wire, h.config)
	dup, err := unix.FcntlInt(uintptr(h.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("fcntl dup", err)
	}
	h.file = os.NewFile(uintptr(dup), "tls handshake") // the socket is non-blocking: it goes on the poller
	defer func() {
		_ = h.closeDup()
		h.state.wire.hs = nil // the wire is the loop's from here
	}()
	if h.raw, err = h.file.SyscallConn(); err != nil {
		return err
	}
	if err := h.file.SetDeadline(h.deadline); err != nil {
		return err
	}
	if !h.acquire() {
		return errHandshakeTimeout
	}
	err = h.state.conn.Handshake()
	if err == nil {
		releaseHandshakeBuffers(h.state.conn)
	}
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) && rhe.Conn != nil {
		_, _ = h.write(replyTLSRequired)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = errHandshakeTimeout
	}
	return err
}

// handshakeDone is the loop's half of a finished handshake: the connection is served, or closed and counted.
func (l *Loop) handshakeDone(h *handshake) {
	ln := h.ln
	l.hs.inFlight--
	l.handshakeFinished()
	ln.handshaking--
	ln.dropPeer(h.peer.Addr())
	if h.err != nil {
		ln.stats.TLSHandshakeErrors++
		l.log.Debug(logmsg.TLSFailed, "listener", ln.name, "peer", h.peer, "err", h.err)
		l.refused(ln.name, reasonTLSFailed, h.peer) // its socket is closed (run)
		return
	}
	ln.stats.TLSHandshakes++
	if l.stopping || ln.removed {
		_ = unix.Close(h.fd)
		return
	}
	if c := l.startConn(ln, h.fd, h.peer, h.state); c != nil {
		// the handshake may have read records past its end: they are in the tls.Conn, and no edge will say so
		c.mayRead = true
		l.readAgain(c)
	}
}

// acquire takes a slot, waiting until the deadline at most.
func (h *handshake) acquire() bool {
	if h.held {
		return true
	}
	select {
	case h.slots <- struct{}{}:
		h.held = true
		return true
	default:
	}
	t := time.NewTimer(time.Until(h.deadline))
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		h.held = true
		return true
	case <-t.C:
		return false
	}
}

// release gives the slot back, if held.
func (h *handshake) release() {
	if h.held {
		<-h.slots
		h.held = false
	}
}

// read reads what the socket holds, waiting on the poller without a slot while it holds nothing.
func (h *handshake) read(p []byte) (int, error) {
	var n int
	var rerr error
	err := h.raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = readNB(int(fd), p)
			switch {
			case errors.Is(rerr, unix.EINTR):
				continue
			case errors.Is(rerr, unix.EAGAIN):
				h.release() // parked on the poller: a stalled client holds no slot
				return false
			}
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case !h.acquire():
		return 0, errHandshakeTimeout
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// write writes all of p, waiting on the poller without a slot while the socket is full.
func (h *handshake) write(p []byte) (int, error) {
	done := 0
	var werr error
	err := h.raw.Write(func(fd uintptr) bool {
		for done < len(p) {
			n, err := writeNB(int(fd), p[done:])
			switch {
			case n > 0:
				done += n
			case errors.Is(err, unix.EINTR):
			case errors.Is(err, unix.EAGAIN):
				h.release()
				return false
			default:
				werr = err
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return done, err
	case werr != nil:
		return done, werr
	case !h.acquire():
		return done, errHandshakeTimeout
	}
	return done, nil
}

// closeDup closes the duplicate socket (the loop's stays open), once.
func (h *handshake) closeDup() error {
	if h.file == nil {
		return nil
	}
	err := h.file.Close()
	h.file = nil
	if err != nil {
		return fmt.Errorf("close the handshake's socket: %w", err)
	}
	return nil
}
