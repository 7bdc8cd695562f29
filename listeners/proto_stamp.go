package listeners

import (
	"net/netip"
	"time"

	"echogate/internal/logmsg"
	"echogate/internal/stamp"
	"echogate/policy"
)

// stampReflector is the datagram protocol of mode "stamp": a STAMP Session-Reflector (RFC 8762) with the
// extensions of RFC 8972 (SSID, TLVs). Each test packet is answered in its own buffer with a reflected packet
// of the same size, so it is never an amplifier; the admission, loop and rate guards of udp.go have run
// before. The packet codec is internal/stamp.
const udpStamp = "stamp"

type stampReflector struct{}

func init() { registerDatagramProtocol(udpStamp, stampReflector{}) }

// stampState is the reflector state of one endpoint in mode "stamp".
type stampState struct {
	rules    *policy.Stamp // the rules mac and sessions were set up for
	mac      *stamp.MAC    // nil unless authenticated
	clock    stampClock
	sessions map[stampSessionKey]*stampSession // stateful mode; bounded by max_udp_peers, aged with the peers
	all      stampSession                      // the Direct Measurement counts of a stateless reflector
	// replyTOS is the TOS byte the reply just returned by reply is sent with, as its Class of Service TLV
	// decided (udp_tos.go); -1 = the socket's own.
	replyTOS int16
}

// stampSessionKey identifies a STAMP session: the sender's address and port, and its SSID (RFC 8972 §3).
type stampSessionKey struct {
	peer netip.AddrPort
	ssid uint16
}

// stampSession is the state of one session.
type stampSession struct {
	next   uint32 // the reflector's next sequence number
	rx, tx uint32 // test packets received and reflected
	seen   int64  // loop ns
}

// startStamp sets up the endpoint's reflector for its policy: at start, and when a reload changes its rules.
// The kernel's receive timestamps (T2) are asked for once.
func (u *udpEndpoint) startStamp(l *Loop) {
	if u.stamp == nil {
		u.stamp = &stampState{sessions: map[stampSessionKey]*stampSession{}, replyTOS: -1}
		if err := enableRxControl(u.fd, u.addr.Addr().Is6(), u.v6only, true); err != nil {
			l.log.Warn(logmsg.NoRxControl, "event", "STAMP receive timestamps are taken by echogate, not the kernel",
				"listener", u.name, "err", err)
		}
		u.rxctl = true
	}
	s, rules := u.stamp, u.pol.Stamp
	if rules == s.rules {
		return
	}
	s.rules, s.mac = rules, nil
	if rules != nil && rules.Auth {
		s.mac = stamp.NewMAC(rules.Key)
	}
	if rules == nil || !rules.Stateful {
		clear(s.sessions)
	}
}

// age forgets the sessions not heard from since cutoff (loop ns).
func (s *stampState) age(cutoff int64) {
	if s == nil {
		return
	}
	for k, ss := range s.sessions {
		if ss.seen < cutoff {
			delete(s.sessions, k)
		}
	}
}

// reply answers a test packet in its own buffer: the reflected packet is the test packet's size.
func (stampReflector) reply(l *Loop, u *udpEndpoint, d datagram) ([]byte, bool) {
	s := u.stamp
	if s == nil || s.rules == nil {
		return nil, false
	}
	s.replyTOS = -1
	test, integrity, ok := s.admit(l, u, d)
	if !ok {
		return nil, false
	}
	rules, b := s.rules, d.data
	tlvs := b[stamp.BaseSize(rules.Auth):]
	rxAt := rxTime(d)
	s.clock.refresh(l.nowNano)
	ss, seq := s.session(l, u, d.src, test)
	ss.rx++
	ss.tx++
	refl := stamp.Reflection{TOS: d.tos, SyncIn: s.clock.syncSource(), SyncOut: s.clock.syncSource(),
		MethodIn: stamp.MethodSWLocal, MethodOut: stamp.MethodSWLocal, RxCount: ss.rx, TxCount: ss.tx}
	if integrity { // TLVs whose HMAC is wrong ask for nothing: the reply keeps the socket's TOS, RP = 1
		refl.DSCPAllow = rules.DSCPAllow
	}
	out := stamp.ReflectTLVs(tlvs, &refl)
	if out.Malformed > 0 {
		u.stats.StampMalformed++
	}
	if integrity {
		s.replyTOS = out.TOS
	}
	if !integrity && out.HMACAt >= 0 {
		tlvs[out.HMACAt-stamp.TLVHeader] |= stamp.FlagI
	}
	ttl := uint8(0) // unknown: the kernel did not say
	if d.ttl >= 0 {
		ttl = uint8(d.ttl)
	}
	stamp.PutReply(b, stamp.Reply{Seq: seq, ErrEst: s.clock.errorEstimate(rules.PTP), SSID: test.SSID,
		RxTimestamp: s.clock.timestamp(rxAt, rules.PTP), SenderSeq: test.Seq, SenderTime: test.Timestamp,
		SenderErrEst: test.ErrEst, SenderTTL: ttl}, rules.Auth)
	stamp.SetReplyTimestamp(b, s.clock.timestamp(time.Now().UnixNano(), rules.PTP), rules.Auth) // T3: last
	if rules.Auth {
		s.mac.Sign(b)
		if out.HMACAt >= 0 {
			s.mac.SignTLVs(b, tlvs, out.HMACAt)
		}
	}
	u.stats.StampReflected++
	return b, true
}

// admit reads the test packet of d and checks it: long enough for its mode, not another reflector's answer
// (two reflectors would answer each other for ever) and, authenticated, with a good HMAC; a packet that fails
// is counted and dropped. integrity is false when its HMAC TLV is wrong: the packet is still answered, with
// the I flag on that TLV (RFC 8972 §4.8).
func (s *stampState) admit(l *Loop, u *udpEndpoint, d datagram) (test stamp.Test, integrity, ok bool) {
	rules, b := s.rules, d.data
	if d.truncated || len(b) < stamp.BaseSize(rules.Auth) {
		u.stats.StampMalformed++
		u.stats.UDPDropped++
		l.refused(u.name, reasonStampShort, d.src)
		return test, false, false
	}
	if stamp.LooksReflected(b, rules.Auth, rxTime(d)) { // another reflector's answer: a loop
		u.stats.UDPDropped++
		u.stats.UDPLoopDropped++
		l.refused(u.name, reasonLoop, d.src)
		return test, false, false
	}
	test, _ = stamp.ParseTest(b, rules.Auth)
	if !rules.Auth {
		return test, true, true
	}
	if !s.mac.Verify(b) {
		u.stats.StampAuthFailed++
		u.stats.UDPDropped++
		l.refused(u.name, reasonStampAuth, d.src)
		return test, false, false
	}
	tlvs := b[stamp.AuthSize:]
	if at := stamp.HMACOffset(tlvs); at >= 0 && !s.mac.VerifyTLVs(b, tlvs, at) {
		u.stats.StampAuthFailed++
		return test, false, true
	}
	return test, true, true
}

// rxTime is when d was received: the kernel's time, or now when the kernel did not say.
func rxTime(d datagram) int64 {
	if d.rxTime != 0 {
		return d.rxTime
	}
	return time.Now().UnixNano()
}

// session returns the state that counts test packet t from src, and the reflector's sequence number for
// it: a stateless reflector copies the sender's (RFC 8762 §4.3.1); a stateful one counts per session. A
// stateful reflector whose table is full (max_udp_peers sessions) answers the newcomer statelessly.
func (s *stampState) session(l *Loop, u *udpEndpoint, src netip.AddrPort, t stamp.Test) (*stampSession, uint32) {
	if !s.rules.Stateful {
		return &s.all, t.Seq
	}
	k := stampSessionKey{peer: src, ssid: t.SSID}
	ss := s.sessions[k]
	if ss == nil {
		if len(s.sessions) >= u.pol.MaxUDPPeers {
			return &s.all, t.Seq
		}
		ss = &stampSession{}
		s.sessions[k] = ss
	}
	ss.seen = l.nowNano
	seq := ss.next
	ss.next++
	return ss, seq
}
