package listeners

import (
	"errors"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

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
				l.log.Warn("accept failed", "listener", ln.name, "err", err)
				return
			}
		}
		ln.backoff = 0
		l.admit(ln, nfd, peer)
	}
}

// admit asks the listener's policy about a new connection and either registers it or closes it.
func (l *Loop) admit(ln *tcpListener, fd int, peer netip.AddrPort) {
	pol := ln.pol
	addr := peer.Addr().Unmap()
	switch pol.AdmitConn(peer, len(ln.conns)+int(ln.handshaking), int(ln.perIP[addr])) {
	case policy.RefuseCIDR:
		ln.stats.RefusedCIDR++
		unix.Close(fd)
		l.refused(ln.name, reasonCIDR, peer)
		return
	case policy.RefuseBusy:
		ln.stats.RefusedBusy++
		refuseBusy(fd)
		l.refused(ln.name, reasonBusy, peer)
		return
	case policy.RefusePerIP:
		ln.stats.RefusedPerIP++
		refuseBusy(fd)
		l.refused(ln.name, reasonPerIP, peer)
		return
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	peer = netip.AddrPortFrom(addr, peer.Port())
	if pol.TLS != nil {
		l.startHandshake(ln, fd, peer)
		return
	}
	l.startConn(ln, fd, peer, nil)
}

// startConn serves an admitted connection (over TLS when st is set, its handshake done): it registers it and
// counts it. It returns nil if the connection could not be registered and was closed.
func (l *Loop) startConn(ln *tcpListener, fd int, peer netip.AddrPort, st *tlsState) *tcpConn {
	c := &tcpConn{fd: int32(fd), ln: ln, peer: peer, proto: tcpProtocolFor(ln.pol.Mode),
		lastActive: l.nowNano, events: unix.EPOLLIN, tls: st}
	if err := l.register(fd, unix.EPOLLIN|connEdge, c); err != nil {
		l.log.Warn("register connection", "listener", ln.name, "err", err)
		unix.Close(fd)
		return nil
	}
	ln.addConn(c, peer.Addr())
	ln.stats.Accepted++
	l.stats.TotalClients++
	l.stats.TCPNow++
	l.idle.add(c, l.nowNano+l.idleSpan(ln.pol.IdleTimeout))
	return c
}

// refuseBusy tells a client over a cap why it is turned away, then closes it.
func refuseBusy(fd int) {
	unix.Write(fd, replyBusy)
	unix.Shutdown(fd, unix.SHUT_WR)
	unix.Close(fd)
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
	ln.releaseIP(c.peer.Addr())
}

// releaseIP takes one connection from addr's count.
func (ln *tcpListener) releaseIP(addr netip.Addr) {
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
		l.log.Warn("accept: out of resources, pausing listener", "listener", ln.name, "err", err,
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
		l.log.Warn("pause listener", "listener", ln.name, "err", err)
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
			l.log.Warn("resume listener", "listener", ln.name, "err", err)
		}
	})
}

// boundSocket is the socket of a listener: a listening TCP socket or a UDP socket.
type boundSocket struct {
	fd        int
	inherited bool // from systemd: never closed, only taken out of the epoll set
}

// detach takes the socket out of the epoll set; connections are left alone.
func (s *boundSocket) detach(l *Loop) {
	if s.fd < 0 {
		return
	}
	if err := l.unregister(s.fd); err != nil {
		l.log.Warn("take socket out of the epoll set", "fd", s.fd, "err", err)
	}
}

// closeSocket closes the socket unless systemd owns it.
func (s *boundSocket) closeSocket() {
	if s.fd >= 0 && !s.inherited {
		unix.Close(s.fd)
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
	unix.Close(int(*s))
	*s = -1
	return true
}

func (s *spareFD) reserve() { *s = newSpareFD() }
