package listeners

import (
	"errors"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"echogate/policy"
)

// tcpConn is one accepted TCP connection. An idle connection is only this small struct: the buffers of a
// connection with data in flight live in io, which goes back to the loop as soon as it is empty.
type tcpConn struct {
	ln         *tcpListener
	io         *connIO   // nil while idle
	diag       *connDiag // the PROXY stage and what /whoami read once (proxy_conn.go); nil on a plain connection
	tls        *tlsState // nil on a plain connection (transport_tls.go)
	peer       netip.AddrPort
	lastActive int64 // loop ns of the last byte read or written
	lineStart  int64 // loop ns of the read that began the unfinished line, if there is one
	bucket     policy.Bucket
	fd         int32
	idx        int32         // position in ln.conns
	lineDue    int32         // second at which c comes round in the line_timeout wheel; 0 = not in it
	events     uint8         // current epoll interest: EPOLLIN, EPOLLOUT (both fit in a byte, and c in 112 bytes)
	strikes    uint8         // overlong lines with no good line between them
	proto      tcpProtocolID // what the listener's mode was at accept time (protocol.go)
	state      connState     // echogate's side of c's life: open, closing, lingering, shut, closed
	// Flags that are independent of the state and of each other: what the peer did and what the socket may hold.
	mayRead    bool // the socket may hold input not yet read (connections are edge-triggered)
	peerShut   bool // epoll reported the peer's FIN: a short read has not yet reached the end
	eof        bool // a read returned the end: the peer half-closed (in any state)
	queuedRead bool // on the loop's again list
}

// connState is where a connection is in its life; it only moves forward. open → closing when the peer
// half-closes or the protocol calls end; closing → closed once the output is flushed, if the peer has sent its
// EOF. Otherwise echogate is ending a connection whose peer may still be sending, so it lingers (tcp_end.go):
// open or closing → lingering → shut → closed. Any state goes straight to closed on an error, a timeout or
// the loop's end. Whether the peer has half-closed is the eof flag, not a state: it happens in any state.
type connState uint8

const (
	connOpen      connState = iota // reading and answering
	connClosing                    // reads nothing more; closes once its output is flushed
	connLingering                  // echogate ends c: flushing what was answered, dropping input
	connShut                       // lingering, with the write side shut: waiting for the peer's EOF
	connClosed
)

// closing reports whether c takes no more input to answer: it is closing, lingering, shut or closed.
func (c *tcpConn) closing() bool { return c.state >= connClosing }

// lingering reports whether echogate is ending c (see linger).
func (c *tcpConn) lingering() bool { return c.state == connLingering || c.state == connShut }

// end asks for c to close once what it has answered is flushed; it answers no more input.
func (c *tcpConn) end() {
	if c.state == connOpen {
		c.state = connClosing
	}
}

// connIO is the part of a connection that exists only while it has data in flight.
type connIO struct {
	framer    Framer
	out       []byte // replies; out[head:] is not written yet
	head      int
	held      []byte // input not yet processed (rate limit or full output queue)
	rateTimer *timer // set while reading is paused by rate_lines, or while lingering before the close
}

// idle reports whether io holds nothing and can be given back.
func (io *connIO) idle() bool {
	return io.queued() == 0 && len(io.held) == 0 && io.rateTimer == nil && io.framer.Buffered() == 0 &&
		!io.framer.discarding
}

// readRounds bounds the reads per wake-up so one fast client cannot starve the others.
const readRounds = 4

func (c *tcpConn) onEvent(l *Loop, events uint32) {
	if c.lingering() {
		c.onLingerEvent(l, events)
		return
	}
	if events&unix.EPOLLERR != 0 {
		c.close(l, "reset")
		return
	}
	if events&unix.EPOLLHUP != 0 && !c.readable() {
		c.close(l, "hangup")
		return
	}
	if events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLRDHUP) != 0 {
		c.mayRead = true
	}
	if events&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0 {
		c.peerShut = true
	}
	if events&unix.EPOLLOUT != 0 && (c.io != nil || c.tls != nil) && !c.flush(l) {
		return
	}
	if c.mayRead && c.readable() {
		c.read(l)
	}
	if c.state != connClosed {
		c.settle(l)
	}
}

// readable reports whether the connection may take more input now.
func (c *tcpConn) readable() bool {
	if c.eof || c.closing() {
		return false
	}
	io := c.io
	return io == nil || len(io.held) == 0 && io.rateTimer == nil && io.queued() <= c.ln.pol.MaxOutput/2
}

// read takes what the socket has (up to a fairness budget) and hands it to the protocol. A read shorter than
// asked for took everything the socket held, so mayRead is cleared: whatever arrives later raises a new
// edge-triggered event. The peer's FIN is the exception: it may have come with the data, and only the next
// read returns the end.
func (c *tcpConn) read(l *Loop) {
	for round := 0; round < readRounds && c.readable(); round++ {
		room := len(l.readBuf)
		if c.io != nil {
			room = min(room, c.ln.pol.MaxOutput-c.io.queued())
		}
		if room <= 0 {
			return
		}
		n, err := c.recv(l.readBuf[:room])
		switch {
		case n > 0:
			c.lastActive = l.nowNano
			c.ln.stats.BytesIn += uint64(n)
			data := l.readBuf[:n]
			if c.diag != nil && c.diag.wait != nil {
				data = c.proxyInput(l, data) // the bytes after a PROXY header
			}
			if len(data) > 0 {
				c.consume(l, data)
			}
			if n < room && !c.peerShut {
				c.mayRead = false
				return
			}
		case n == 0:
			c.eof, c.mayRead = true, false
			if c.diag != nil && c.diag.wait != nil {
				c.proxyEOF(l)
			}
			return
		case errors.Is(err, unix.EAGAIN):
			c.mayRead = false
			return
		case errors.Is(err, unix.EINTR):
			round--
		default:
			c.close(l, "read error")
			return
		}
	}
}

// consume hands data to c's protocol, and holds what it did not take (a full output queue, the line rate)
// until c may go on. What a connection that is ending did not take is dropped.
func (c *tcpConn) consume(l *Loop, data []byte) {
	if c.io == nil && c.tls == nil {
		if v := tcpVerbatims[c.proto]; v != nil && v.verbatim(c, data) {
			c.echo(l, data)
			return
		}
	}
	l.connIO(c)
	if n := tcpProtocols[c.proto].serve(l, c, data); n < len(data) && !c.closing() {
		c.hold(l, data[n:])
	}
}

// echo writes data, a read that is its own answer, straight from the read buffer, and queues only what the
// socket does not take: an echo that goes out whole costs the connection no buffer at all.
func (c *tcpConn) echo(l *Loop, data []byte) {
	n, err := c.send(data)
	for errors.Is(err, unix.EINTR) {
		n, err = c.send(data)
	}
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		c.close(l, "write error")
		return
	}
	n = max(n, 0)
	c.wrote(l, n)
	if n < len(data) {
		io := l.connIO(c)
		io.out = append(l.outBuf(io), data[n:]...)
	}
}

// hold keeps unprocessed input until the connection may go on.
func (c *tcpConn) hold(l *Loop, data []byte) {
	if c.io.held == nil {
		c.io.held = l.pool.get()
	}
	c.io.held = append(c.io.held[:0], data...)
}

// pauseFor stops reading for d because of the line rate limit.
func (c *tcpConn) pauseFor(l *Loop, d time.Duration) {
	c.io.rateTimer = l.schedule(max(d, time.Millisecond), func() {
		if c.state == connClosed || c.io == nil {
			return
		}
		c.io.rateTimer = nil
		c.settle(l)
	})
}

// settle finishes an event: it processes held input as far as the rate limit and the output queue allow,
// writes what is queued, answers the last unterminated line after a half-close, closes when done, gives
// idle buffers back, and sets the epoll interest to match.
func (c *tcpConn) settle(l *Loop) {
	for io := c.io; io != nil; {
		if len(io.held) > 0 && io.rateTimer == nil && !c.closing() && io.queued() < c.ln.pol.MaxOutput {
			held := io.held
			io.held = nil
			c.consume(l, held) // what it cannot take yet it copies into a fresh io.held
			l.pool.put(held)
		}
		if io.queued() > 0 && !c.flush(l) {
			return
		}
		if io.queued() > 0 || len(io.held) == 0 || io.rateTimer != nil || c.closing() {
			break // the socket is full, or nothing more can be done now
		}
	}
	if c.eof && !c.closing() && (c.io == nil || len(c.io.held) == 0) {
		if c.finishHalfClose(l); c.state == connClosed {
			return
		}
	}
	if c.closing() && !c.eof {
		c.linger(l) // echogate ends c (two overlong lines): its last reply must not be lost to a reset
		return
	}
	if c.closing() && (c.io == nil || c.io.queued() == 0) && !c.tls.unsent() {
		c.close(l, "done")
		return
	}
	if c.io != nil && c.io.idle() {
		l.releaseIO(c)
		c.tls.idle()
	}
	if c.mayRead && c.readable() {
		l.readAgain(c) // stopped by the fairness budget or by backpressure that has since cleared
	}
	c.setInterest(l)
}

// finishHalfClose lets the protocol answer what is left after the peer's half-close, flushes, and marks the
// connection to close once its output is gone.
func (c *tcpConn) finishHalfClose(l *Loop) {
	c.end()
	l.connIO(c)
	if tcpProtocols[c.proto].halfClosed(l, c); c.io.queued() > 0 {
		c.flush(l)
	}
}

// flush writes queued output (and, over TLS, the records in wait) until it is gone or the socket is full. It
// reports false if the connection was closed.
func (c *tcpConn) flush(l *Loop) bool {
	io := c.io
	for io != nil && io.queued() > 0 {
		n, err := c.send(io.out[io.head:])
		if n > 0 {
			c.wrote(l, n)
			io.sent(n)
			continue
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			return true
		}
		c.close(l, "write error")
		return false
	}
	return c.flushRecords(l)
}

// wrote accounts n bytes the socket took.
func (c *tcpConn) wrote(l *Loop, n int) {
	if n > 0 {
		c.ln.stats.BytesOut += uint64(n)
		c.lastActive = l.nowNano
	}
}

// setInterest asks epoll for input when the connection may read and for output while replies are queued.
func (c *tcpConn) setInterest(l *Loop) {
	var want uint32
	if c.readable() {
		want |= unix.EPOLLIN
	}
	if c.io != nil && c.io.queued() > 0 || c.tls.unsent() {
		want |= unix.EPOLLOUT
	}
	c.arm(l, want)
}

// connEdge is added to every connection's epoll interest: edge-triggered, and told of the peer's FIN.
const connEdge = unix.EPOLLET | unix.EPOLLRDHUP

// arm sets the epoll interest to want, edge-triggered. It reports false if that failed and c was closed.
// Changing the interest makes the kernel look at the socket again, so input or room that is already there
// raises an event at once.
func (c *tcpConn) arm(l *Loop, want uint32) bool {
	if uint8(want) == c.events {
		return true
	}
	c.events = uint8(want)
	if err := l.modify(int(c.fd), want|connEdge); err != nil {
		c.close(l, "epoll")
		return false
	}
	return true
}

// connIO returns c's I/O state, taking one from the loop's free list when c was idle.
func (l *Loop) connIO(c *tcpConn) *connIO {
	if c.io == nil {
		if n := len(l.freeIO); n > 0 {
			c.io = l.freeIO[n-1]
			l.freeIO[n-1] = nil
			l.freeIO = l.freeIO[:n-1]
		} else {
			c.io = &connIO{}
		}
	}
	return c.io
}

// outBuf returns io's output buffer, taking one from the pool when io has none: a connection holding only
// an unfinished line does not hold an output buffer too.
func (l *Loop) outBuf(io *connIO) []byte {
	if io.out == nil {
		io.out = l.pool.get()
	}
	return io.out
}

// queued is how many reply bytes wait to be written.
func (io *connIO) queued() int { return len(io.out) - io.head }

// sent drops n written bytes from the front of the queue. Bytes are moved down only once the written part
// is at least half the buffer, so a large queue drained a little at a time costs O(n) copying, not O(n²).
func (io *connIO) sent(n int) {
	io.head += n
	switch {
	case io.head == len(io.out):
		io.out, io.head = io.out[:0], 0
	case io.head >= len(io.out)/2:
		io.out = io.out[:copy(io.out, io.out[io.head:])]
		io.head = 0
	}
}

// releaseIO gives c's buffers and I/O state back to the loop.
func (l *Loop) releaseIO(c *tcpConn) {
	io := c.io
	c.io = nil
	l.pool.put(io.out)
	l.pool.put(io.held)
	l.linePool.put(io.framer.Detach())
	*io = connIO{}
	if len(l.freeIO) < poolMaxFree {
		l.freeIO = append(l.freeIO, io)
	}
}
