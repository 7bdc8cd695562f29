package listeners

import (
	"bytes"

	"echogate/config"
)

// lineProtocol is TCP mode "line": lines are echoed whole, lines starting with '/' are commands (when the
// listener allows them), a line over max_line is answered "ERR too-long-line", and a second one in a row ends
// the connection. rate_lines paces it, and an unfinished line is subject to line_timeout.
type lineProtocol struct{}

func init() { registerTCPProtocol(config.ModeLine, lineProtocol{}) }

// verbatim reports whether data is answered by itself: whole lines within max_line, none a command, no line
// rate to keep and no more than max_output of it (Framer.PlainRun decides, on a connection with no unfinished
// line). The lines are counted here.
func (lineProtocol) verbatim(c *tcpConn, data []byte) bool {
	pol := c.ln.pol
	if pol.LinesLimited() {
		return false
	}
	f := Framer{Max: pol.MaxLine}
	n, lines := f.PlainRun(data, pol.MaxOutput, pol.Commands)
	if n < len(data) {
		return false
	}
	c.ln.stats.Lines += uint64(lines)
	c.strikes = 0
	return true
}

// serve echoes the lines of data. It stops when the output queue is full or the line rate is exceeded, and
// returns how much it took.
func (lineProtocol) serve(l *Loop, c *tcpConn, data []byte) int {
	io, pol := c.io, c.ln.pol
	io.framer.Max = pol.MaxLine
	total := len(data)
	for len(data) > 0 && !c.closing() {
		if io.queued() >= pol.MaxOutput {
			break
		}
		if !pol.LinesLimited() {
			// the common case: a run of plain lines is echoed with one copy
			if n, lines := io.framer.PlainRun(data, pol.MaxOutput-io.queued(), pol.Commands); n > 0 {
				io.out = append(l.outBuf(io), data[:n]...)
				c.ln.stats.Lines += uint64(lines)
				c.strikes = 0
				data = data[n:]
				continue
			}
		} else if bytes.IndexByte(data, '\n') >= 0 {
			if ok, wait := pol.TakeLine(&c.bucket, l.nowNano); !ok {
				c.ln.stats.RateLimited++
				c.pauseFor(l, wait)
				break
			}
		}
		if !io.framer.Attached() { // lent only when Next may keep an unfinished line
			io.framer.Attach(l.linePool.get())
		}
		ev, line, rest := io.framer.Next(data)
		data = rest
		switch ev {
		case Line:
			c.strikes = 0
			c.ln.stats.Lines++
			answerLine(l, c, line)
		case Overflow:
			c.ln.stats.Overflows++
			io.out = append(l.outBuf(io), replyTooLong...)
			if c.strikes++; c.strikes >= 2 {
				c.end()
			} else if io.framer.Pending() {
				c.lineUnfinished(l) // skipping to the '\n' of a line that is not over
			}
		case NeedMore:
			if io.framer.Pending() {
				c.lineUnfinished(l)
			}
		}
	}
	if io.framer.Buffered() == 0 {
		l.linePool.put(io.framer.Detach())
	}
	return total - len(data)
}

// halfClosed answers a final line that has no '\n': nothing received is lost.
func (lineProtocol) halfClosed(l *Loop, c *tcpConn) {
	if p := c.io.framer.Partial(); len(p) > 0 {
		c.ln.stats.Lines++
		answerLine(l, c, p)
	}
}

// answerLine answers one complete line: a command, or the line itself.
func answerLine(l *Loop, c *tcpConn, line []byte) {
	io := c.io
	if len(line) > 0 && line[0] == '/' && c.ln.pol.Commands {
		io.out = l.connCommand(l.outBuf(io), c, line)
		return
	}
	io.out = append(l.outBuf(io), line...)
}
