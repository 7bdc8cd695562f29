package listeners

import (
	"errors"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The end of a TLS connection runs on a TLS thread, not on the loop. On loopback, the send of our close_notify
// and the close's FIN run the peer's TCP receive, and for a client that has already gone the reset it answers
// with, inside the system call: measured on the loop thread at 200 TLS connections a second (perf record),
// that send alone was 23 % of the loop's CPU per connection, and the longest single step the loop took for a
// connection, the one a plain listener's round trip waited behind. So, when a TLS connection closes, the loop
// encrypts the close_notify (a few µs), takes the socket out of its epoll set and fd table, and hands the
// socket and the record to an idle TLS thread, which sends the record once and closes the socket (what the
// loop did itself before, with the same one try). Out of the epoll set, the dying socket wakes the loop no
// more. At most maxTLSCloses wait for a thread (a saturated host starves SCHED_IDLE threads); beyond that, and
// while the loop stops, the loop does it itself.

// maxTLSCloses bounds the TLS connections handed to threads and not yet closed. Each holds a file descriptor
// and may have started a thread of its own (no TLS thread was idle); a close takes a thread tens of µs, so
// this many waiting means the threads are starved, and the loop, which the kernel runs first anyway, had
// better close them itself.
const maxTLSCloses = 64

// tlsClosesWait bounds how long a stopping loop waits for the closes it handed out, so that their peers get
// their close_notify before the process exits.
const tlsClosesWait = time.Second

// tlsCloses counts the closes handed to TLS threads.
type tlsCloses struct {
	pending atomic.Int64 // handed and not yet done
	handed  uint64       // in all; the loop's
}

// tlsClose is one TLS connection to end: its socket, gone from the loop, and the records still to send.
type tlsClose struct {
	fd      int
	records []byte // owned by the job: the loop's buffer pool is the loop's alone
	closes  *tlsCloses
}

// run sends the records in one try, as the loop would have, and closes the socket.
func (j *tlsClose) run(*Loop) {
	for len(j.records) > 0 {
		n, err := writeNB(j.fd, j.records)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n <= 0 {
			break // the peer is gone or its window is shut: the close is what is left to do
		}
		j.records = j.records[n:]
	}
	_ = unix.Close(j.fd)
	j.closes.pending.Add(-1)
}

// endTLS closes the socket of c, a TLS connection that is closing, after our close_notify (queued now if it
// was not yet): on a TLS thread when one can take it, else here. c's handler is already gone.
func (c *tcpConn) endTLS(l *Loop) {
	s := c.tls
	if !s.notified { // every tls.Conn the loop holds has finished its handshake
		c.queueCloseNotify()
	}
	fd := int(c.fd)
	if !l.stopping && l.hs.closes.pending.Load() < maxTLSCloses && l.unregister(fd) == nil {
		j := &tlsClose{fd: fd, records: append([]byte(nil), s.wire.out...), closes: &l.hs.closes}
		l.hs.closes.pending.Add(1)
		l.hs.closes.handed++
		l.hs.threads.run(l, j)
	} else {
		_ = s.wire.flush(fd) // best effort: the socket is closed next
		_ = unix.Close(fd)
	}
	l.pool.put(s.wire.out)
	s.wire.out = nil
}

// waitTLSCloses waits, up to tlsClosesWait, for the closes handed to TLS threads to be done.
func (l *Loop) waitTLSCloses() {
	deadline := time.Now().Add(tlsClosesWait)
	for l.hs.closes.pending.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}
