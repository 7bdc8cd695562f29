package listeners

import (
	"math"
	"time"

	"echogate/config"
	"echogate/internal/logmsg"
)

// tick runs once a second: it closes idle connections and those whose line took too long, and ages UDP peers.
func (l *Loop) tick() {
	l.idle.advance(l.nowNano, l.checkIdle)
	l.lines.advance(l.nowNano, l.checkLine)
	for _, u := range l.udp {
		u.agePeers(l)
	}
	l.schedule(time.Second, l.tick)
}

// checkIdle closes c if it has been silent for its listener's idle_timeout, else puts it back in the wheel.
func (l *Loop) checkIdle(c *tcpConn) {
	if c.state == connClosed {
		return
	}
	timeout := c.ln.pol.IdleTimeout
	if timeout > 0 && l.nowNano-c.lastActive >= int64(timeout) {
		c.ln.stats.IdleClosed++
		c.close(l, "idle timeout")
		return
	}
	deadline := l.nowNano + l.idleSpan(0)
	if timeout > 0 {
		deadline = c.lastActive + int64(timeout)
		if deadline < c.lastActive {
			deadline = math.MaxInt64
		}
	}
	l.idle.add(c, deadline)
}

// idleSpan is how far ahead to look at a connection again: its timeout, or the wheel's span when it has none
// (a reload may give it one later).
func (l *Loop) idleSpan(timeout time.Duration) int64 {
	if timeout > 0 {
		return int64(timeout)
	}
	return int64(wheelSlots-1) * int64(time.Second)
}

func (l *Loop) peerWindow() time.Duration {
	if l.opts.UDPPeerWindow > 0 {
		return l.opts.UDPPeerWindow
	}
	return config.DefaultUDPPeerWindow
}

// scheduleStats logs the stats line every stats_interval, following the interval across reloads.
func (l *Loop) scheduleStats() {
	every := l.opts.StatsInterval
	if every <= 0 {
		l.schedule(time.Second, l.scheduleStats)
		return
	}
	l.schedule(every, func() {
		if l.opts.StatsInterval > 0 {
			l.logStats()
			if l.opts.OnStats != nil {
				l.opts.OnStats(l.stats.TCPNow, l.udpActive())
			}
		}
		l.scheduleStats()
	})
}

// Shutdown starts a graceful stop from any goroutine: Run returns once every connection has been flushed and
// closed, or shutdown_grace has passed.
func (l *Loop) Shutdown(reason string) {
	l.Submit(func() { l.beginShutdown(reason) })
}

// beginShutdown closes every listening socket, then ends each connection without losing what it was answered:
// output queued when the stop began is flushed while input is read and dropped, then the write side is shut
// and the connection closes at the peer's EOF (see linger). Input not yet answered when the stop began (held
// back by backpressure or rate_lines, an unfinished line, still in the socket) is never answered. Whatever is
// still open when shutdown_grace runs out is closed.
func (l *Loop) beginShutdown(reason string) {
	if l.stopping {
		return
	}
	l.stopping, l.stopAt = true, l.nowNano
	l.log.Info(logmsg.ShuttingDown, "reason", reason, "connections", l.stats.TCPNow, "grace", l.opts.ShutdownGrace)
	if l.opts.OnShutdown != nil {
		l.opts.OnShutdown(reason)
	}
	for name, ln := range l.tcp {
		ln.detach(l)
		ln.closeSocket()
		ln.removed = true
		delete(l.tcp, name)
	}
	for name, u := range l.udp {
		u.detach(l)
		u.closeSocket()
		delete(l.udp, name)
	}
	l.fds.each(func(_ int, h handler) { h.shutdown(l, true) })
	if l.stats.TCPNow == 0 {
		l.finishShutdown()
		return
	}
	l.schedule(l.opts.ShutdownGrace, func() {
		if n := l.stats.TCPNow; n > 0 {
			l.log.Warn(logmsg.ConnsClosed, "event", "shutdown_grace reached, closing connections", "connections", n)
		}
		l.stopped = true
	})
}

// finishShutdown ends the graceful stop once the last connection has closed.
func (l *Loop) finishShutdown() {
	if !l.stopped {
		l.log.Info(logmsg.ConnsClosed, "event", "every connection flushed and closed",
			"took", time.Duration(l.nowNano-l.stopAt).Round(time.Millisecond))
	}
	l.stopped = true
}

// CountReload records the outcome of a reload for /stats json. It must run on the loop goroutine.
func (l *Loop) CountReload(ok bool) {
	if ok {
		l.stats.ReloadsOK++
	} else {
		l.stats.ReloadsFailed++
	}
}
