package main

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"echogate/internal/stamp"
)

// receive reads reflected packets until the socket is closed, and sends each good one to out. A reply
// whose HMAC is wrong, or too short, is counted as bad and not measured.
func (s *session) receive(out chan<- sample) {
	buf, oob := make([]byte, 2048), make([]byte, 128)
	for {
		n, oobn, _, _, err := s.conn.ReadMsgUDP(buf, oob)
		if err != nil {
			if isClosed(err) {
				close(out)
				return
			}
			continue // ICMP port unreachable and the like: the loss shows in the count
		}
		t4 := time.Now().UnixNano()
		at, tos := control(oob[:oobn])
		if at != 0 {
			t4 = at
		}
		if r, ok := s.parse(buf[:n], t4); ok {
			if r.replyDSCP = -1; tos >= 0 {
				r.replyDSCP = tos >> 2
			}
			out <- r
		} else {
			out <- sample{flags: badReply}
		}
	}
}

// badReply marks a sample that is not a good reflected packet.
const badReply = 0xff

// parse reads one reflected packet received at t4.
func (s *session) parse(b []byte, t4 int64) (sample, bool) {
	auth := s.mac != nil
	r, err := stamp.ParseReply(b, auth)
	if err != nil || auth && !s.check.Verify(b) {
		return sample{}, false
	}
	ptp := r.ErrEst&stamp.ErrPTP != 0
	sm := sample{
		t1: stamp.UnixNano(r.SenderTime, s.o.ptp) - s.tai(s.o.ptp), t2: stamp.UnixNano(r.RxTimestamp, ptp) - s.tai(ptp),
		t3: stamp.UnixNano(r.Timestamp, ptp) - s.tai(ptp), t4: t4, reflSeq: r.Seq, senderSeq: r.SenderSeq,
		ttl: r.SenderTTL, dscp: -1, ecn: -1, rp: -1, reflErr: r.ErrEst,
	}
	for rest := b[stamp.BaseSize(auth):]; len(rest) > 0; {
		t, next, ok := stamp.NextTLV(rest)
		if !ok {
			sm.flags |= stamp.FlagM
			break
		}
		sm.flags |= t.Flags
		if t.Type == stamp.TypeClassOfService && t.Flags&(stamp.FlagU|stamp.FlagM) == 0 {
			if _, d2, ecn, rp, ok := stamp.ParseCoS(t.Value); ok {
				sm.dscp, sm.ecn, sm.rp = int16(d2), int16(ecn), int8(rp)
			}
		}
		rest = next
	}
	return sm, true
}

// tai is the TAI − UTC offset to take off a timestamp in the PTP format.
func (s *session) tai(ptp bool) int64 {
	if ptp {
		return s.taiNs
	}
	return 0
}

// control reads the control messages of a reply: the kernel's receive time (SCM_TIMESTAMPNS), 0 when there
// is none, and the TOS or traffic class it arrived with (IP_TOS, IPV6_TCLASS), -1 when there is none.
func control(oob []byte) (at int64, tos int16) {
	tos = -1
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, -1
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16:
			at = int64(binary.NativeEndian.Uint64(m.Data))*1e9 + int64(binary.NativeEndian.Uint64(m.Data[8:]))
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TOS && len(m.Data) >= 1:
			tos = int16(m.Data[0])
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_TCLASS && len(m.Data) >= 4:
			tos = int16(binary.NativeEndian.Uint32(m.Data) & 0xff)
		}
	}
	return at, tos
}
