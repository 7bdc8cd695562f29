package listeners

import (
	"net"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"echogate/internal/logmsg"
	"echogate/policy"
)

// udpGuards keep the daemon out of UDP echo loops: datagrams from its own sockets are never answered, and
// identical datagrams that bounce faster than a client would send them are dropped (see policy.LoopGuard).
type udpGuards struct {
	own     policy.OwnSockets
	repeats *policy.LoopGuard // made with the first UDP socket
	nextID  uint64            // tells UDP sockets apart in the repeat table
	// setAtID and setAtLen are nextID and the number of UDP sockets when own was last set.
	setAtID  uint64
	setAtLen int
	// lookAgain asks the host-address watcher to read the host's addresses now (after a reload).
	lookAgain chan struct{}
	hostAddrs []netip.Addr // as last read, sorted: to log only changes
}

// hostAddrsEvery is how often the host's addresses are read again. An address added in between is covered by
// the repeat table until then: a loop through it is cut after LoopRepeatBurst datagrams.
const hostAddrsEvery = 10 * time.Second

// newUDPGuardID returns a number no other UDP socket of this loop has.
func (l *Loop) newUDPGuardID() uint64 {
	if l.guards.repeats == nil {
		l.guards.repeats = policy.NewLoopGuard()
	}
	l.guards.nextID++
	return l.guards.nextID
}

// repeatedTooFast reports whether the datagram from src of size bytes (data as received) is the same one
// again, faster than a client would send it: it bounces between this socket and another echo server.
func (u *udpEndpoint) repeatedTooFast(l *Loop, src netip.AddrPort, size int, data []byte) bool {
	g := l.guards.repeats
	return !g.Admit(g.Key(u.guardID, src, size, data), l.nowNano)
}

// listenersChanged runs at the end of every Apply. It drops the cached /stats json, and when UDP sockets
// came or went, it takes the new set into the own-socket rule and counts their peers again; it always asks
// for a fresh look at the host's addresses. A reload that keeps every UDP socket costs no per-listener work
// here.
func (l *Loop) listenersChanged() {
	l.statsJSON.invalidate()
	g := &l.guards
	if g.setAtID != g.nextID || g.setAtLen != len(l.udp) { // every new socket takes an ID
		socks := make([]policy.OwnSocket, 0, len(l.udp))
		for _, u := range l.udp {
			socks = append(socks, policy.OwnSocket{Addr: u.addr, V6Only: u.v6only})
		}
		g.own.Set(socks)
		g.setAtID, g.setAtLen = g.nextID, len(l.udp)
		l.countUDPPeers()
	}
	select {
	case g.lookAgain <- struct{}{}:
	default:
	}
}

// watchHostAddrs reads the host's addresses now, every hostAddrsEvery and after each reload, off the loop
// (it is a netlink dump), and hands them to the loop. It returns when the loop stops.
func (l *Loop) watchHostAddrs() {
	tick := time.NewTicker(hostAddrsEvery)
	defer tick.Stop()
	for {
		addrs, err := hostAddrs()
		l.Submit(func() { l.setHostAddrs(addrs, err) })
		select {
		case <-l.done:
			return
		case <-tick.C:
		case <-l.guards.lookAgain:
		}
	}
}

// setHostAddrs takes a new list of the host's addresses. A failed read keeps the old list.
func (l *Loop) setHostAddrs(addrs []netip.Addr, err error) {
	if err != nil {
		l.log.Warn(logmsg.HostAddresses, "event", "cannot read them; keeping the last list for the UDP own-socket rule",
			"err", err)
		return
	}
	if slices.Equal(addrs, l.guards.hostAddrs) {
		return
	}
	l.guards.hostAddrs = addrs
	l.guards.own.SetLocal(addrs)
	l.log.Debug(logmsg.HostAddresses, "event", "changed", "addresses", len(addrs))
}

// hostAddrs returns the addresses of the host's interfaces, unmapped, without zone, sorted.
func hostAddrs() ([]netip.Addr, error) {
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	addrs := make([]netip.Addr, 0, len(ifAddrs))
	for _, ia := range ifAddrs {
		if ipn, ok := ia.(*net.IPNet); ok {
			if a, ok := netip.AddrFromSlice(ipn.IP); ok {
				addrs = append(addrs, a.Unmap())
			}
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return slices.Compact(addrs), nil
}

// isV6Only reports whether an IPv6 socket refuses IPv4 (IPV6_V6ONLY). A socket that cannot say is taken as
// dual-stack, which makes the own-socket rule match more, never less.
func isV6Only(fd int, addr netip.AddrPort) bool {
	if !addr.Addr().Is6() || addr.Addr().Is4In6() {
		return false
	}
	v, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
	return err == nil && v == 1
}
