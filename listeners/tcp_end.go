package listeners

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"echogate/internal/logmsg"
)

// How a TCP connection ends. A peer that closes or half-closes gets every reply first (settle). When echogate
// ends a connection itself (a second overlong line, line_timeout, a graceful stop), the peer may still be
// sending, and closing a socket that holds unread input, or that input reaches after the close, makes the
// kernel send a reset and throw away the replies still in its send queue. So such a connection lingers:
// nothing more is answered, what was already answered is flushed while input is read and dropped, then the
// write side is shut (the peer reads its replies, then EOF). It closes at the peer's EOF; or once the peer has
// acknowledged every byte and sent nothing for lingerQuiet, so that it has all its replies and a reset would
// cost it nothing; or lingerTimeout after the shut; or, while stopping, when shutdown_grace runs out.

const (
	// lingerQuiet is how long a peer that has acknowledged everything must have sent nothing before its
	// connection is closed without waiting for its EOF: long enough that a client still sending is not
	// reset in mid-stream, short enough that a graceful stop does not wait on idle clients.
	lingerQuiet = time.Second
	// lingerTimeout bounds how long a connection whose write side echogate has shut waits for its peer.
	// While stopping, shutdown_grace bounds it instead.
	lingerTimeout = 2 * time.Second
	// lingerAckPoll is how often a quiet peer is looked at again while it has not acknowledged everything.
	lingerAckPoll = 20 * time.Millisecond
)

// linger starts ending c: input read but not yet answered (held by the rate limit or backpressure, an
// unfinished line) is dropped, and what is queued is flushed before the write side is shut.
func (c *tcpConn) linger(l *Loop) {
	if c.lingering() || c.state == connClosed {
		return
	}
	c.state = connLingering
	if io := c.io; io != nil {
		l.cancel(io.rateTimer)
		io.rateTimer = nil
		l.pool.put(io.held)
		io.held = nil
		l.linePool.put(io.framer.Detach())
	}
	l.readAgain(c) // input and room that are already there raise no new edge
}

// onLingerEvent serves a lingering connection: it flushes, reads and drops input, and settles.
func (c *tcpConn) onLingerEvent(l *Loop, events uint32) {
	if events&unix.EPOLLERR != 0 {
		c.close(l, "reset")
		return
	}
	if (c.io != nil && c.io.queued() > 0 || c.tls.unsent()) && !c.flush(l) {
		return
	}
	if !c.eof && !c.discardInput(l) {
		return
	}
	c.settleLinger(l)
}

// discardInput reads and throws away what the peer sends, and notes its EOF. It reports false if c was closed.
func (c *tcpConn) discardInput(l *Loop) bool {
	for range readRounds {
		n, err := c.recv(l.readBuf)
		switch {
		case n > 0:
			c.ln.stats.BytesIn += uint64(n)
			c.lastActive = l.nowNano // not quiet yet (lingerDone)
			continue
		case n == 0:
			c.eof = true
			return true
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return true
		}
		c.close(l, "read error")
		return false
	}
	l.readAgain(c) // the budget ran out with input left
	return true
}

// settleLinger shuts the write side once every reply is out, closes at the peer's EOF, and otherwise waits for
// input (to drop) and for room (to flush).
func (c *tcpConn) settleLinger(l *Loop) {
	queued := c.io != nil && c.io.queued() > 0 || c.tls.unsent()
	if !queued && c.state == connLingering && c.tls != nil && !c.tls.notified {
		c.queueCloseNotify() // TLS ends with close_notify, then the FIN
		if !c.flushRecords(l) {
			return
		}
		queued = c.tls.unsent()
	}
	if !queued && c.state == connLingering {
		c.state = connShut
		_ = unix.Shutdown(int(c.fd), unix.SHUT_WR)
		c.watchLinger(l)
		if c.state == connClosed {
			return
		}
	}
	if c.eof && !queued {
		c.close(l, "done")
		return
	}
	var want uint32
	if !c.eof {
		want |= unix.EPOLLIN
	}
	if queued {
		want |= unix.EPOLLOUT
	}
	c.arm(l, want)
}

// watchLinger closes a connection whose write side is shut once lingerDone says it may, or lingerTimeout
// after the shut when echogate is not stopping. It looks at once, and again when the peer will have been quiet
// for lingerQuiet, or every lingerAckPoll while only acknowledgements are missing: a client that was idle when
// the stop began goes within a round trip.
func (c *tcpConn) watchLinger(l *Loop) {
	shutAt := l.nowNano
	var check func()
	check = func() {
		if c.state == connClosed {
			return
		}
		c.io.rateTimer = nil
		switch {
		case c.lingerDone(l):
			c.close(l, "done")
		case !l.stopping && l.nowNano-shutAt >= int64(lingerTimeout):
			c.close(l, "linger timeout")
		default: // look again when the peer will have been quiet long enough, or soon for the last ack
			wait := max(c.lastActive+int64(lingerQuiet)-l.nowNano, int64(lingerAckPoll))
			c.io.rateTimer = l.schedule(time.Duration(wait), check)
		}
	}
	l.connIO(c)
	check()
}

// lingerDone reports whether c may close without its peer losing anything: the peer has acknowledged every
// byte (the kernel's send queue, the FIN included, is empty) and has sent nothing for lingerQuiet.
func (c *tcpConn) lingerDone(l *Loop) bool {
	if l.nowNano-c.lastActive < int64(lingerQuiet) {
		return false
	}
	unacked, err := unix.IoctlGetInt(int(c.fd), unix.SIOCOUTQ)
	return err == nil && unacked == 0
}

// lineUnfinished is told of each read that leaves a line unfinished. It notes when the line began and makes
// sure c comes round in the line_timeout wheel by the line's deadline. Reads that end on a line boundary, the
// common case, never get here.
func (c *tcpConn) lineUnfinished(l *Loop) {
	if c.io.framer.Began() {
		c.lineStart = l.nowNano
	}
	timeout := c.ln.pol.LineTimeout
	if timeout <= 0 {
		return
	}
	deadline := saturatedAdd(c.lineStart, timeout)
	if due := l.lines.due(deadline); c.lineDue == 0 || due < int64(c.lineDue) {
		// a second entry when c is already in the wheel (line_timeout was lowered by a reload): the one that no
		// longer matches lineDue is skipped when it comes round
		c.lineDue = int32(l.lines.add(c, deadline))
	}
}

// checkLine is the line_timeout wheel's visit: it ends c with "ERR line-timeout" if its unfinished line has
// taken longer than line_timeout, and otherwise puts it back for as long as a line is pending.
func (l *Loop) checkLine(c *tcpConn) {
	if c.state == connClosed || int64(c.lineDue) != l.lines.base {
		return // closed, or an entry that a nearer one replaced
	}
	c.lineDue = 0
	timeout := c.ln.pol.LineTimeout
	if timeout <= 0 || c.closing() || c.io == nil || !c.io.framer.Pending() {
		return // the next unfinished line puts c back
	}
	deadline := saturatedAdd(c.lineStart, timeout)
	switch {
	case !c.readable():
		// echogate is not reading c (backpressure, rate_lines): the line cannot end now, and that is not the
		// client's doing. Look again in a second.
		deadline = max(deadline, l.nowNano+int64(time.Second))
	case l.nowNano >= deadline:
		c.lineTimedOut(l)
		return
	}
	c.lineDue = int32(l.lines.add(c, deadline))
}

// lineTimedOut answers "ERR line-timeout" and ends the connection.
func (c *tcpConn) lineTimedOut(l *Loop) {
	c.ln.stats.LineTimeouts++
	l.log.Debug(logmsg.LineTimeout, "listener", c.ln.name, "peer", c.peer, "line_timeout", c.ln.pol.LineTimeout)
	io := c.io
	io.out = append(l.outBuf(io), replyLineTimeout...)
	c.linger(l)
}

// saturatedAdd returns t+d, or the far future when that would wrap.
func saturatedAdd(t int64, d time.Duration) int64 {
	if s := t + int64(d); s >= t {
		return s
	}
	return 1<<63 - 1
}

// shutdown ends c when the loop stops: gracefully by lingering, otherwise at once.
func (c *tcpConn) shutdown(l *Loop, graceful bool) {
	if graceful {
		c.linger(l) // nothing if it already lingers
		return
	}
	c.close(l, "shutdown")
}

// close releases the connection and its buffers.
func (c *tcpConn) close(l *Loop, reason string) {
	if c.state == connClosed {
		return
	}
	c.state = connClosed
	l.setHandler(int(c.fd), nil)
	if c.tls != nil {
		c.endTLS(l) // close_notify, then the close, off the loop when it can (tls_close.go)
	} else {
		_ = unix.Close(int(c.fd))
	}
	c.ln.removeConn(c)
	if c.diag != nil && c.diag.wait != nil {
		l.cancel(c.diag.wait.timer)
	}
	if c.io != nil {
		l.cancel(c.io.rateTimer)
		c.io.rateTimer = nil
		l.releaseIO(c)
	}
	l.stats.TCPNow--
	l.log.Debug(logmsg.ConnClosed, "listener", c.ln.name, "peer", c.peer, "reason", reason)
	l.connClosed(c.ln)
}
