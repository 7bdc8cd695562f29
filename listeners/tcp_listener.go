package listeners

import (
	"errors"
	"net/netip"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"echogate/internal/logmsg"
	"echogate/policy"
)

// tcpListener is a listening TCP socket and the connections it accepted.
type tcpListener struct {
	name string
	boundSocket
	addr    netip.AddrPort
	pol     *policy.Policy
	stats   *Counters
	conns   []*tcpConn
	perIP   map[netip.Addr]int32
	removed bool
	paused  bool // out of the epoll set after EMFILE, until a back-off timer re-arms it
	// handshaking counts the TLS handshakes in flight (tls_handshake.go): they count against max_conns
	// and, in perIP, against max_conns_per_ip.
	handshaking int32
	backoff     time.Duration
}

func (ln *tcpListener) shutdown(*Loop, bool) {}

// acceptBudget bounds the connections taken per wake-up, so one busy listener cannot starve the others.
const acceptBudget = 64

func (ln *tcpListener) onEvent(l *Loop, _ uint32) {
	for i := 0; i < acceptBudget && !ln.removed && !ln.paused; i++ {
		nfd, peer, err := l.accept(ln.fd)
		if err != nil {
			switch {
			case errors.Is(err, unix.EAGAIN):
				return
			case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
				continue
			case errors.Is(err, unix.EMFILE), errors.Is(err, unix.ENFILE),
				errors.Is(err, unix.ENOBUFS), errors.Is(err, unix.ENOMEM):
				l.acceptExhausted(ln, err)
				return
			default:
				l.log.Warn(logmsg.AcceptFailed, "listener", ln.name, "err", err)
				return
			}
		}
		ln.backoff = 0
		l.admit(ln, nfd, peer)
	}
}

// admit asks the listener's policy about a new connection and either registers it or closes it. A listener
// with proxy_protocol on hands a trusted balancer's connections to the PROXY stage (proxy_conn.go), which
// judges the client its header names.
func (l *Loop) admit(ln *tcpListener, fd int, peer netip.AddrPort) {
	pol := ln.pol
	addr := peer.Addr().Unmap()
	peer = netip.AddrPortFrom(addr, peer.Port())
	if pol.Proxy != policy.ProxyOff && l.admitBalancer(ln, fd, peer) {
		return
	}
	if v := pol.AdmitConn(peer, len(ln.conns)+int(ln.handshaking), int(ln.perIP[addr])); v != policy.Admitted {
		if l.countRefusal(ln, v, peer) {
			refuseBusy(fd)
		} else {
			_ = unix.Close(fd)
		}
		return
	}
	if pol.TLS != nil {
		// TCP_NODELAY is a latency nicety: echo works without it, so its error is ignored.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		l.startHandshake(ln, fd, peer) // tls_handshake.go: startConn follows once it is done
		return
	}
	l.startConn(ln, fd, peer, nil)
}

// startConn serves an admitted connection (over TLS when st is set, its handshake done): it registers it,
// counts it, and lets a protocol that speaks first answer. It returns nil if the connection could not be
// registered and was closed.
func (l *Loop) startConn(ln *tcpListener, fd int, peer netip.AddrPort, st *tlsState) *tcpConn {
	c := l.openConn(ln, fd, peer, st)
	if c != nil {
		l.admitted(ln)
		l.greet(c)
	}
	return c
}

// greet lets a protocol that speaks first (the agent) answer a connection it has just been given.
func (l *Loop) greet(c *tcpConn) {
	if g := tcpGreeters[c.proto]; g != nil {
		l.connIO(c)
		g.greet(l, c)
		c.settle(l)
	}
}

// countRefusal counts a connection refused with verdict v and reports whether the client is told "server busy".
func (l *Loop) countRefusal(ln *tcpListener, v policy.ConnVerdict, peer netip.AddrPort) (busy bool) {
	switch v {
	case policy.RefuseCIDR:
		ln.stats.RefusedCIDR++
		l.refused(ln.name, reasonCIDR, peer)
		return false
	case policy.RefuseBusy:
		ln.stats.RefusedBusy++
		l.refused(ln.name, reasonBusy, peer)
	case policy.RefusePerIP:
		ln.stats.RefusedPerIP++
		l.refused(ln.name, reasonPerIP, peer)
	}
	return true
}

// openConn registers a connection from peer with the loop and the listener. It returns nil, having closed fd,
// when epoll refuses it.
func (l *Loop) openConn(ln *tcpListener, fd int, peer netip.AddrPort, st *tlsState) *tcpConn {
	if st == nil {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1) // TLS has it from admit; see there
	}
	c := &tcpConn{fd: int32(fd), ln: ln, peer: peer, proto: tcpProtocolFor(ln.pol.Mode),
		lastActive: l.nowNano, events: unix.EPOLLIN, tls: st}
	if err := l.register(fd, unix.EPOLLIN|connEdge, c); err != nil {
		l.log.Warn(logmsg.EpollFailed, "op", "register connection", "listener", ln.name, "err", err)
		_ = unix.Close(fd)
		return nil
	}
	ln.addConn(c, peer.Addr())
	l.stats.TCPNow++
	l.idle.add(c, l.nowNano+l.idleSpan(ln.pol.IdleTimeout))
	return c
}

// admitted counts a connection the listener serves.
func (l *Loop) admitted(ln *tcpListener) {
	ln.stats.Accepted++
	l.stats.TotalClients++
}

// refuseBusy tells a client over a cap why it is turned away, then closes it.
func refuseBusy(fd int) {
	// Best effort: the client is turned away whether or not the reply and the FIN get out.
	_, _ = unix.Write(fd, replyBusy)
	_ = unix.Shutdown(fd, unix.SHUT_WR)
	_ = unix.Close(fd)
}

// accept takes one connection with accept4(2), non-blocking and close-on-exec, without allocating.
func (l *Loop) accept(fd int) (int, netip.AddrPort, error) {
	n := uint32(unix.SizeofSockaddrAny)
	nfd, _, errno := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&l.acceptSA)),
		uintptr(unsafe.Pointer(&n)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, netip.AddrPort{}, errno
	}
	return int(nfd), rawAddrPort(&l.acceptSA), nil
}

func (ln *tcpListener) addConn(c *tcpConn, addr netip.Addr) {
	c.idx = int32(len(ln.conns))
	ln.conns = append(ln.conns, c)
	ln.perIP[addr]++
}

func (ln *tcpListener) removeConn(c *tcpConn) {
	last := len(ln.conns) - 1
	moved := ln.conns[last]
	ln.conns[c.idx] = moved
	moved.idx = c.idx
	ln.conns[last] = nil
	ln.conns = ln.conns[:last]
	ln.dropPeer(c.peer.Addr())
}

// dropPeer counts one connection less from addr.
func (ln *tcpListener) dropPeer(addr netip.Addr) {
	if n := ln.perIP[addr] - 1; n > 0 {
		ln.perIP[addr] = n
	} else {
		delete(ln.perIP, addr)
	}
}

// acceptExhausted handles running out of file descriptors or memory: it turns one waiting client away with a
// busy reply through a reserved fd, takes the listener out of the epoll set so the loop cannot spin, and
// re-arms it after a growing back-off.
func (l *Loop) acceptExhausted(ln *tcpListener, err error) {
	ln.backoff = min(max(2*ln.backoff, 10*time.Millisecond), time.Second)
	ln.stats.AcceptErrors++
	if ln.backoff >= time.Second || ln.stats.AcceptErrors == 1 {
		l.log.Warn(logmsg.AcceptFailed, "event", "out of resources, pausing listener", "listener", ln.name, "err", err,
			"backoff", ln.backoff)
	}
	if l.spare.release() {
		if nfd, _, aerr := l.accept(ln.fd); aerr == nil {
			ln.stats.RefusedBusy++
			refuseBusy(nfd)
		}
		l.spare.reserve()
	}
	ln.paused = true
	if err := l.modify(ln.fd, 0); err != nil {
		l.log.Warn(logmsg.EpollFailed, "op", "pause listener", "listener", ln.name, "err", err)
	}
	l.schedule(ln.backoff, func() {
		if l.spare < 0 {
			l.spare.reserve() // it may have failed while descriptors were short
		}
		if ln.removed || !ln.paused {
			return
		}
		ln.paused = false
		if err := l.modify(ln.fd, unix.EPOLLIN); err != nil {
			l.log.Warn(logmsg.EpollFailed, "op", "resume listener", "listener", ln.name, "err", err)
		}
	})
}

// boundSocket is the socket of a listener: a listening TCP socket or a UDP socket.
type boundSocket struct {
	fd        int
	inherited bool           // from systemd: never closed, only taken out of the epoll set
	closes    *atomic.Uint64 // the loop's count of closed sockets, for a scrape's kernel view (observe.go)
}

// detach takes the socket out of the epoll set; connections are left alone.
func (s *boundSocket) detach(l *Loop) {
	if s.fd < 0 {
		return
	}
	if err := l.unregister(s.fd); err != nil {
		l.log.Warn(logmsg.EpollFailed, "op", "take socket out of the epoll set", "fd", s.fd, "err", err)
	}
}

// closeSocket closes the socket unless systemd owns it.
func (s *boundSocket) closeSocket() {
	if s.fd >= 0 && !s.inherited {
		_ = unix.Close(s.fd)
		if s.closes != nil {
			s.closes.Add(1)
		}
	}
	s.fd = -1
}

// spareFD is a descriptor held in reserve so that, when the process is out of descriptors, one waiting client
// can still be accepted and told "server busy" instead of hanging in the backlog.
type spareFD int

func newSpareFD() spareFD {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return spareFD(fd)
}

func (s *spareFD) release() bool {
	if *s < 0 {
		return false
	}
	_ = unix.Close(int(*s))
	*s = -1
	return true
}

func (s *spareFD) reserve() { *s = newSpareFD() }
