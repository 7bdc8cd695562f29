package listeners

import (
	"errors"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"echogate/policy"
)

// tcpConn is one accepted TCP connection. It holds buffers only while it has data in flight.
type tcpConn struct {
	fd         int
	idx        int // position in ln.conns
	ln         *tcpListener
	peer       netip.AddrPort
	lastActive int64
	framer     Framer
	out        []byte // replies not yet written
	held       []byte // input not yet processed (rate limit or full output queue)
	bucket     policy.Bucket
	rateTimer  *timer
	events     uint32 // current epoll interest
	strikes    uint8  // overlong lines with no good line between them
	raw        bool   // mode at accept time
	eof        bool   // the peer half-closed
	closing    bool   // close once the output is flushed; read nothing more
	closed     bool
}

// readRounds bounds the reads per wake-up so one fast client cannot starve the others.
const readRounds = 4

func (c *tcpConn) onEvent(l *Loop, events uint32) {
	if events&unix.EPOLLERR != 0 {
		c.close(l, "reset")
		return
	}
	if events&unix.EPOLLHUP != 0 && !c.readable() {
		c.close(l, "hangup")
		return
	}
	if events&unix.EPOLLOUT != 0 && !c.flush(l) {
		return
	}
	if events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 && c.readable() {
		c.read(l)
	}
	if !c.closed {
		c.settle(l)
	}
}

// readable reports whether the connection may take more input now.
func (c *tcpConn) readable() bool {
	return !c.eof && !c.closing && len(c.held) == 0 && c.rateTimer == nil &&
		len(c.out) <= c.ln.pol.MaxOutput/2
}

// read takes what the socket has (up to a fairness budget) and runs it through the echo.
func (c *tcpConn) read(l *Loop) {
	for round := 0; round < readRounds && c.readable(); round++ {
		room := min(len(l.readBuf), c.ln.pol.MaxOutput-len(c.out))
		if room <= 0 {
			return
		}
		n, err := readNB(c.fd, l.readBuf[:room])
		switch {
		case n > 0:
			c.lastActive = l.nowNano
			c.ln.stats.BytesIn += uint64(n)
			c.consume(l, l.readBuf[:n])
			if n < room {
				return
			}
		case n == 0 && err == nil:
			c.eof = true
			return
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR):
			round--
		default:
			c.close(l, "read error")
			return
		}
	}
}

// consume echoes data: lines (with commands) in line mode, bytes as they are in raw mode. When the output
// queue is full or the line rate is exceeded it keeps the rest in c.held and stops.
func (c *tcpConn) consume(l *Loop, data []byte) {
	if c.out == nil {
		c.out = l.pool.get()
	}
	pol := c.ln.pol
	if c.raw {
		c.out = append(c.out, data...)
		return
	}
	if !c.framer.Attached() {
		c.framer.Attach(l.pool.get())
	}
	c.framer.Max = pol.MaxLine
	for len(data) > 0 && !c.closing {
		if len(c.out) >= pol.MaxOutput {
			c.hold(l, data)
			break
		}
		if pol.LinesLimited() && hasNewline(data) {
			if ok, wait := pol.TakeLine(&c.bucket, l.nowNano); !ok {
				c.ln.stats.RateLimited++
				c.hold(l, data)
				c.pauseFor(l, wait)
				break
			}
		}
		ev, line, rest := c.framer.Next(data)
		data = rest
		switch ev {
		case Line:
			c.strikes = 0
			c.ln.stats.Lines++
			c.line(l, line)
		case Overflow:
			c.ln.stats.Overflows++
			c.out = append(c.out, replyTooLong...)
			if c.strikes++; c.strikes >= 2 {
				c.closing = true
			}
		}
	}
	if c.framer.Buffered() == 0 {
		l.pool.put(c.framer.Detach())
	}
}

func hasNewline(b []byte) bool {
	for _, x := range b {
		if x == '\n' {
			return true
		}
	}
	return false
}

// line answers one complete line: a command, or the line itself.
func (c *tcpConn) line(l *Loop, line []byte) {
	if len(line) > 0 && line[0] == '/' && c.ln.pol.Commands {
		c.out = l.runCommand(c.out, c.ln.pol, c.ln.stats, c.peer, line, false)
		return
	}
	c.out = append(c.out, line...)
}

// hold keeps unprocessed input until the connection may go on.
func (c *tcpConn) hold(l *Loop, data []byte) {
	if c.held == nil {
		c.held = l.pool.get()
	}
	c.held = append(c.held[:0], data...)
}

// pauseFor stops reading for d because of the line rate limit.
func (c *tcpConn) pauseFor(l *Loop, d time.Duration) {
	c.rateTimer = l.schedule(max(d, time.Millisecond), func() {
		c.rateTimer = nil
		if !c.closed {
			c.settle(l)
		}
	})
}

// settle finishes an event: it processes held input when allowed, answers the last unterminated line after
// a half-close, writes what is queued, closes when done, and sets the epoll interest to match.
func (c *tcpConn) settle(l *Loop) {
	if len(c.held) > 0 && c.rateTimer == nil && !c.closing && len(c.out) < c.ln.pol.MaxOutput {
		held := c.held
		c.held = nil
		c.consume(l, held) // whatever it cannot take yet it copies into a fresh c.held
		l.pool.put(held)
	}
	if c.eof && len(c.held) == 0 && !c.closing {
		if p := c.framer.Partial(); len(p) > 0 && !c.raw {
			c.ln.stats.Lines++
			c.line(l, p)
		}
		c.closing = true
	}
	if len(c.out) > 0 && !c.flush(l) {
		return
	}
	if c.closing && len(c.out) == 0 {
		c.close(l, "done")
		return
	}
	c.setInterest(l)
}

// flush writes queued output until it is gone or the socket is full. It reports false if the connection
// was closed.
func (c *tcpConn) flush(l *Loop) bool {
	for len(c.out) > 0 {
		n, err := writeNB(c.fd, c.out)
		if n > 0 {
			c.ln.stats.BytesOut += uint64(n)
			c.lastActive = l.nowNano
			c.out = c.out[:copy(c.out, c.out[n:])]
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
	l.pool.put(c.out)
	c.out = nil
	return true
}

// setInterest asks epoll for input when the connection may read and for output while replies are queued.
func (c *tcpConn) setInterest(l *Loop) {
	var want uint32
	if c.readable() {
		want |= unix.EPOLLIN
	}
	// Held input with nothing left to write would wait for an event that never comes: let the writable
	// socket wake the loop so that settle goes on with it.
	if len(c.out) > 0 || len(c.held) > 0 && c.rateTimer == nil {
		want |= unix.EPOLLOUT
	}
	if want != c.events {
		c.events = want
		if err := l.modify(c.fd, want); err != nil {
			c.close(l, "epoll")
		}
	}
}

// close releases the connection and its buffers.
func (c *tcpConn) close(l *Loop, reason string) {
	if c.closed {
		return
	}
	c.closed = true
	if c.fd < len(l.fds) {
		l.fds[c.fd] = nil
	}
	unix.Close(c.fd)
	c.ln.removeConn(c)
	l.cancel(c.rateTimer)
	c.rateTimer = nil
	l.pool.put(c.out)
	l.pool.put(c.held)
	l.pool.put(c.framer.Detach())
	c.out, c.held = nil, nil
	l.stats.TCPNow--
	l.log.Debug("connection closed", "listener", c.ln.name, "peer", c.peer, "reason", reason)
	l.connClosed(c.ln)
}
