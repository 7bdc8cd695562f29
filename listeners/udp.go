package listeners

import (
	"errors"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
	"echogate/internal/logmsg"
	"echogate/policy"
)

// udpEndpoint is one UDP socket with its peer table. Every datagram is answered from the same socket.
type udpEndpoint struct {
	name string
	boundSocket
	addr    netip.AddrPort
	pol     *policy.Policy
	stats   *Counters
	proto   datagramProtocol         // what is answered (protocol.go)
	peers   map[netip.AddrPort]int64 // last datagram, loop ns; aged out by the loop's tick
	vlen    batchSize
	pktinfo bool        // bound to the wildcard: replies go out from each datagram's destination address
	rxctl   bool        // the kernel reports each datagram's TTL and TOS (udp_control.go)
	stamp   *stampState // the state of mode "stamp" (proto_stamp.go); nil in other modes
	v6only  bool        // an IPv6 socket that serves no IPv4 clients
	guardID uint64
	// lastPeer is the peer most recently written to peers, and when (loop ns).
	lastPeer     netip.AddrPort
	lastPeerSeen int64
	buckets      map[netip.Addr]*sourceBucket
	gsoRefused   bool // the kernel refused a UDP_SEGMENT send on this socket: replies go one by one (udp_gso.go)
	gro          bool // the kernel queues coalesced datagrams whole (UDP_GRO, udp_gro.go)
}

// sourceBucket is the rate bucket of one source address and when it was last used.
type sourceBucket struct {
	policy.Bucket
	seen int64 // loop ns
}

// peerRefresh is how stale a peer's time in the table may get while it keeps sending. It must stay well
// under the smallest udp_peer_window (one second).
const peerRefresh = 250 * time.Millisecond

// newUDPEndpoint makes the endpoint for a UDP listener on socket b. On a wildcard address it turns on
// destination reporting, so replies leave from the address each client sent to.
func (l *Loop) newUDPEndpoint(lc *config.Listener, b Binding, pol *policy.Policy) *udpEndpoint {
	u := &udpEndpoint{name: lc.Name, boundSocket: boundSocket{fd: b.FD, inherited: b.Inherited, closes: &l.obs.closes},
		addr: b.Addr, pol: pol, stats: l.stats.counters(lc.Name), peers: map[netip.AddrPort]int64{},
		buckets: map[netip.Addr]*sourceBucket{}, v6only: isV6Only(b.FD, b.Addr), guardID: l.newUDPGuardID()}
	if b.Addr.Addr().IsUnspecified() {
		if err := enablePktinfo(b.FD, b.Addr.Addr().Is6()); err != nil {
			l.log.Warn(logmsg.NoPktinfo, "event", "replies may leave from another address than the client sent to",
				"listener", lc.Name, "err", err)
		} else {
			u.pktinfo = true
		}
	}
	if err := enableRxControl(b.FD, b.Addr.Addr().Is6(), u.v6only, false); err != nil {
		l.log.Warn(logmsg.NoRxControl, "event", "the TTL and TOS of datagrams are not known", "listener", lc.Name, "err", err)
	} else {
		u.rxctl = true
	}
	u.gro = groEnabled(b.FD) // a socket passed on from an echo listener has it on; useProtocol decides
	u.useProtocol(l)
	return u
}

// useProtocol sets the endpoint's protocol from its policy's mode, at start and when a reload changes it.
func (u *udpEndpoint) useProtocol(l *Loop) {
	p, ok := datagramProtocols[string(u.pol.Mode)]
	if !ok {
		p = datagramProtocols[udpEcho]
	}
	u.proto = p
	if u.pol.Mode == config.ModeStamp {
		u.startStamp(l)
	} else {
		u.stamp = nil
	}
	if echo := u.pol.Mode != config.ModeStamp; echo != u.gro {
		if !echo {
			u.drainRuns(l)
		}
		u.setGRO(l, echo)
	}
	if u.gro {
		l.udpBatch().makeSpill()
	}
}

// udpRounds bounds the batches taken per wake-up, so one flooded socket cannot starve the others.
const udpRounds = 4

func (u *udpEndpoint) shutdown(*Loop, bool) {}

func (u *udpEndpoint) onEvent(l *Loop, _ uint32) { u.serveBatches(l, udpRounds) }

// serveBatches answers up to rounds batches of the socket's datagrams, and reports whether it left the
// socket empty.
func (u *udpEndpoint) serveBatches(l *Loop, rounds int) (empty bool) {
	b := l.udpBatch()
	limit, control := u.pol.MaxDatagram, u.pktinfo || u.rxctl || u.gro
	if u.gro {
		limit = maxDatagram // a coalesced read is never cut: max_datagram is applied to each datagram
	}
	for round := 0; round < rounds; round++ {
		vlen := u.vlen.next()
		n, err := b.receive(u.fd, vlen, limit, control)
		if err != nil {
			if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
				l.log.Warn(logmsg.RecvFailed, "listener", u.name, "err", err)
			}
			return errors.Is(err, unix.EAGAIN)
		}
		replies := 0
		for i := 0; i < n; i++ {
			ctl, ok, rx := []byte(nil), true, noControl
			if control {
				ctl, rx = b.control(i)
				ctl, ok = replySource(ctl)
			}
			size := int(b.hdrs[i].Len)
			switch segs := segments(size, rx.segSize); {
			case !ok:
				u.stats.UDPDropped += uint64(segs) // sent to a multicast or broadcast address
				l.refused(u.name, reasonBroadcast, rawAddrPort(&b.names[i]))
			case segs > 1:
				replies = u.answerCoalesced(l, b, i, ctl, rx, replies)
			default:
				if reply, ok := u.answer(l, b, i, b.bufs[i][:min(size, u.pol.MaxDatagram, maxDatagram)], size, ctl, rx); ok {
					b.queueReply(replies, i, reply, u.replyControl(b, i, ctl))
					replies++
				}
			}
		}
		u.sendQueued(b, replies)
		if u.vlen.observe(n); n < vlen {
			return true
		}
	}
	return false
}

// sendQueued sends the first n queued replies of the batch and empties its spill buffer.
func (u *udpEndpoint) sendQueued(b *udpBatch, n int) {
	if n > 0 {
		sent, bytes := b.sendReplies(u, n)
		u.stats.BytesOut += bytes
		u.stats.UDPDropped += uint64(n - sent)
	}
	b.spilled = 0
}

// answer admits a datagram from the peer of receive slot i and asks the protocol for its reply: the datagram
// itself or a reply written over it, within the datagram's reply budget (no amplification). data is the
// datagram as received, cut at max_datagram, and size its length as sent; ctl is the reply's source, if any;
// rx what the kernel reported of the datagram.
func (u *udpEndpoint) answer(l *Loop, b *udpBatch, i int, data []byte, size int, ctl []byte, rx rxControl) ([]byte, bool) {
	src := rawAddrPort(&b.names[i])
	u.stats.BytesIn += uint64(size)
	if v := u.pol.AdmitDatagram(src); v != policy.Pass {
		u.stats.UDPDropped++
		if v == policy.DropCIDR {
			u.stats.RefusedCIDR++
		}
		l.refused(u.name, verdictReason(v), src)
		return nil, false
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	if l.guards.own.Contains(src) { // one of our own sockets: answering would loop forever
		u.stats.UDPDropped++
		u.stats.UDPLoopDropped++
		l.refused(u.name, reasonLoop, src)
		return nil, false
	}
	if !u.track(l, src) {
		u.stats.UDPDropped++
		l.refused(u.name, reasonRate, src)
		return nil, false
	}
	if u.repeatedTooFast(l, src, size, data) { // an echo loop with another server
		u.stats.UDPDropped++
		u.stats.UDPLoopDropped++
		l.refused(u.name, reasonLoop, src)
		return nil, false
	}
	u.stats.Datagrams++
	d := datagram{src: src, data: data, size: size, budget: replyBudget(size, src), ctl: ctl,
		ttl: rx.ttl, tos: rx.tos, rxTime: rx.at}
	if len(data) < size {
		d.truncated = true
		u.stats.UDPTruncated++
		l.refused(u.name, reasonTruncated, src)
	}
	return u.proto.reply(l, u, d)
}

// The IP and UDP headers of a datagram, as counted by the reply budget: IPv4 20+8 bytes, IPv6 40+8.
const (
	udpHeaders4 = 20 + 8
	udpHeaders6 = 40 + 8
)

// replyBudget is the largest reply payload to a request of size bytes from src. QUIC's anti-amplification rule
// (RFC 9000 §8.1): a reply may be up to 3 times the request as it was on the wire, IP and UDP headers
// included, so a spoofed source can make echogate send at most 3 times what it was sent.
func replyBudget(size int, src netip.AddrPort) int {
	hdr := udpHeaders4
	if !src.Addr().Is4() {
		hdr = udpHeaders6
	}
	return 3*(size+hdr) - hdr
}

// fitReply writes reply over the datagram's own buffer, or where the buffer ends before (a datagram of a
// coalesced run, udp_gro.go) into the batch's spill buffer, if it fits in budget; otherwise the reply is
// dropped, because answering a small request from src with a much larger one would make echogate an
// amplifier.
func (u *udpEndpoint) fitReply(l *Loop, src netip.AddrPort, buf, reply []byte, budget int) ([]byte, bool) {
	if len(reply) <= budget && len(reply) <= cap(buf) {
		return buf[:copy(buf[:len(reply)], reply)], true
	}
	if len(reply) <= budget {
		if out, ok := l.udpBatch().spillReply(reply); ok {
			return out, true
		}
	}
	u.stats.UDPDropped++
	l.refused(u.name, reasonAmplify, src)
	return nil, false
}

// track records the peer and applies the per-source rate limit. It reports false to drop the datagram.
func (u *udpEndpoint) track(l *Loop, src netip.AddrPort) bool {
	// A peer that keeps sending is written to the table at most once per peerRefresh: the table's time
	// only has to be good to the second, and a probe stream should not cost a map write per datagram.
	if src != u.lastPeer || l.nowNano-u.lastPeerSeen >= int64(peerRefresh) {
		if _, known := u.peers[src]; known || len(u.peers) < u.pol.MaxUDPPeers {
			if !known {
				l.stats.TotalClients++
				l.stats.UDPPeers++
			}
			u.peers[src] = l.nowNano
			u.lastPeer, u.lastPeerSeen = src, l.nowNano
		} // a full table is aged by the loop's tick, not here
	}
	if !u.pol.DatagramsLimited() {
		return true
	}
	bk := u.buckets[src.Addr()]
	if bk == nil {
		if len(u.buckets) >= u.pol.MaxUDPPeers {
			u.stats.RateLimited++
			return false // a full table fails closed while rate limits are on
		}
		bk = &sourceBucket{}
		u.buckets[src.Addr()] = bk
	}
	bk.seen = l.nowNano
	if !u.pol.TakeDatagram(&bk.Bucket, l.nowNano) {
		u.stats.RateLimited++
		return false
	}
	return true
}

// agePeers forgets peers and rate buckets not heard from within the window.
func (u *udpEndpoint) agePeers(l *Loop) {
	cutoff := l.nowNano - int64(l.peerWindow())
	u.lastPeer = netip.AddrPort{} // the next datagram of the cached peer writes the table again
	u.stamp.age(cutoff)
	for p, seen := range u.peers {
		if seen < cutoff {
			delete(u.peers, p)
			l.stats.UDPPeers--
		}
	}
	for a, bk := range u.buckets {
		if bk.seen < cutoff {
			delete(u.buckets, a)
		}
	}
}

// batchSize adapts how many datagrams one recvmmsg asks for. Asking for 32 when one is waiting makes the kernel
// look for a second datagram that is not there, on every wake-up: a probe stream of one datagram at a time
// pays a third system call per datagram. So a socket asks for one at a time until it has filled its batch on
// several wake-ups in a row, then doubles up to 32 while the queue stays deep, and drops back at once.
type batchSize struct {
	n     int
	fills int
}

func (b *batchSize) next() int { return max(b.n, 1) }

func (b *batchSize) observe(got int) {
	switch {
	case got >= b.next():
		if b.fills++; b.fills >= 4 {
			b.n = min(2*b.next(), udpBatchSize)
		}
	case got < b.next():
		b.n, b.fills = max(got, 1), 0
	}
}
