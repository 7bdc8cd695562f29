package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"echogate/internal/stamp"
)

// result is what one session measured. Its JSON is the -json line; times are microseconds.
type result struct {
	Reflector     string `json:"reflector"`
	SSID          uint16 `json:"ssid"`
	Authenticated bool   `json:"authenticated"`
	Sent          int    `json:"sent"`
	Received      int    `json:"received"`
	Duplicates    int    `json:"duplicates"`
	BadReplies    int    `json:"bad_replies"` // too short, or a wrong HMAC
	LossRoundTrip int    `json:"loss_round_trip"`
	// LossForward and LossBackward split the loss by direction from the reflector's sequence numbers; nil
	// when that cannot be told (a stateless reflector copies the sender's).
	LossForward       *int    `json:"loss_forward"`
	LossBackward      *int    `json:"loss_backward"`
	ReflectorStateful bool    `json:"reflector_stateful"`
	RoundTrip         summary `json:"round_trip_us"` // (T4 − T1) − (T3 − T2)
	Forward           summary `json:"forward_us"`    // T2 − T1: only as good as the two clocks' sync
	Backward          summary `json:"backward_us"`   // T4 − T3: likewise
	Turnaround        summary `json:"turnaround_us"` // T3 − T2, the reflector's own time
	TTL               []int   `json:"ttl"`           // the TTLs the test packets arrived with
	DSCP              []int   `json:"dscp"`          // the DSCPs they arrived with (Class of Service TLV)
	ECN               []int   `json:"ecn"`
	// DSCPAsked is the DSCP the Class of Service TLV asked the reflected packets to carry; nil without it.
	DSCPAsked *int  `json:"dscp_asked"`
	ReplyDSCP []int `json:"reply_dscp"` // the DSCPs the reflected packets arrived with, here
	// RP is the RP values of the reflected Class of Service TLVs: 0 = the reflector sent the DSCP asked
	// for, 1 = its policy did not permit it and it kept the test packet's (RFC 8972 §4.4).
	RP               []int   `json:"rp"`
	ReflectorSynced  bool    `json:"reflector_synchronized"` // the S bit of the reflector's Error Estimate
	ReflectorErrorUS float64 `json:"reflector_error_us"`     // its estimated clock error
	TLVUnrecognized  bool    `json:"tlv_unrecognized"`       // the reflector set U on a TLV
	TLVMalformed     bool    `json:"tlv_malformed"`          // M
	TLVIntegrity     bool    `json:"tlv_integrity_failed"`   // I

	samples []sample
	seen    map[uint32]bool
	s       *session
}

// summary is the distribution of one delay, in microseconds.
type summary struct {
	Min float64 `json:"min"`
	Avg float64 `json:"avg"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func newResult(s *session, sent int) *result {
	r := &result{Reflector: s.o.addr, SSID: s.ssid, Authenticated: s.mac != nil, Sent: sent,
		seen: map[uint32]bool{}, s: s}
	if s.o.tlvs {
		r.DSCPAsked = &s.o.dscp
	}
	return r
}

// add counts one reply.
func (r *result) add(sm sample) {
	switch {
	case sm.flags == badReply:
		r.BadReplies++
	case r.seen[sm.senderSeq]:
		r.Duplicates++
	default:
		r.seen[sm.senderSeq] = true
		r.Received++
		r.samples = append(r.samples, sm)
	}
}

// finish computes the summaries and the loss.
func (r *result) finish() *result {
	r.LossRoundTrip = r.Sent - r.Received
	var rtt, fwd, bwd, turn []int64
	ttl, dscp, ecn, replyDSCP, rp := map[int]bool{}, map[int]bool{}, map[int]bool{}, map[int]bool{}, map[int]bool{}
	minRefl, maxRefl := ^uint32(0), uint32(0)
	for _, sm := range r.samples {
		rtt = append(rtt, (sm.t4-sm.t1)-(sm.t3-sm.t2))
		fwd, bwd, turn = append(fwd, sm.t2-sm.t1), append(bwd, sm.t4-sm.t3), append(turn, sm.t3-sm.t2)
		ttl[int(sm.ttl)] = true
		if sm.dscp >= 0 {
			dscp[int(sm.dscp)], ecn[int(sm.ecn)] = true, true
		}
		if sm.replyDSCP >= 0 {
			replyDSCP[int(sm.replyDSCP)] = true
		}
		if sm.rp >= 0 {
			rp[int(sm.rp)] = true
		}
		r.ReflectorStateful = r.ReflectorStateful || sm.reflSeq != sm.senderSeq
		minRefl, maxRefl = min(minRefl, sm.reflSeq), max(maxRefl, sm.reflSeq)
		r.ReflectorSynced = sm.reflErr&stamp.ErrSync != 0
		r.ReflectorErrorUS = float64(stamp.ErrorNanos(sm.reflErr)) / 1e3
		r.TLVUnrecognized = r.TLVUnrecognized || sm.flags&stamp.FlagU != 0
		r.TLVMalformed = r.TLVMalformed || sm.flags&stamp.FlagM != 0
		r.TLVIntegrity = r.TLVIntegrity || sm.flags&stamp.FlagI != 0
	}
	r.RoundTrip, r.Forward, r.Backward, r.Turnaround = summarize(rtt), summarize(fwd), summarize(bwd), summarize(turn)
	r.TTL, r.DSCP, r.ECN, r.ReplyDSCP, r.RP = keys(ttl), keys(dscp), keys(ecn), keys(replyDSCP), keys(rp)
	if len(r.samples) > 0 && (r.ReflectorStateful || r.s.o.stateful || r.LossRoundTrip == 0) {
		// A stateful reflector numbers the test packets it received: the gaps in its numbers are the
		// packets lost on the way there, the rest of the loss was on the way back.
		reached := int(maxRefl - minRefl + 1)
		if !r.ReflectorStateful && !r.s.o.stateful {
			reached = r.Received
		}
		fwd, back := r.Sent-reached, reached-r.Received
		r.LossForward, r.LossBackward = &fwd, &back
	}
	return r
}

func summarize(v []int64) summary {
	if len(v) == 0 {
		return summary{}
	}
	slices.Sort(v)
	var sum int64
	for _, x := range v {
		sum += x
	}
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return summary{Min: us(v[0]), Avg: us(sum / int64(len(v))), P50: us(v[len(v)/2]),
		P99: us(v[min(len(v)-1, len(v)*99/100)]), Max: us(v[len(v)-1])}
}

func keys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (r *result) writeJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func (r *result) writeText(w io.Writer) error {
	var b strings.Builder
	mode := "unauthenticated"
	if r.Authenticated {
		mode = "authenticated"
	}
	fmt.Fprintf(&b, "STAMP session to %s, SSID %d, %s\n", r.Reflector, r.SSID, mode)
	fmt.Fprintf(&b, "  sent %d, received %d, lost %d", r.Sent, r.Received, r.LossRoundTrip)
	switch {
	case r.LossForward != nil:
		fmt.Fprintf(&b, " (%d on the way there, %d on the way back)", *r.LossForward, *r.LossBackward)
	case r.Received == 0:
		b.WriteString(" (no reply: no reflector there, another key, or every packet filtered)")
	case r.LossRoundTrip > 0:
		b.WriteString(" (the reflector is stateless: the direction is not known)")
	}
	if r.Duplicates+r.BadReplies > 0 {
		fmt.Fprintf(&b, ", %d duplicates, %d bad replies", r.Duplicates, r.BadReplies)
	}
	b.WriteString("\n              min       avg       p50       p99       max  (µs)\n")
	for _, row := range []struct {
		name string
		s    summary
	}{{"round trip", r.RoundTrip}, {"forward", r.Forward}, {"backward", r.Backward}, {"turnaround", r.Turnaround}} {
		fmt.Fprintf(&b, "  %-10s %9.1f %9.1f %9.1f %9.1f %9.1f\n", row.name, row.s.Min, row.s.Avg, row.s.P50, row.s.P99, row.s.Max)
	}
	sync := "NOT synchronised"
	if r.ReflectorSynced {
		sync = "synchronised"
	}
	fmt.Fprintf(&b, "  one-way delays compare two clocks: the reflector's is %s (error ≤ %s); this host's "+
		"error is not measured\n", sync, time.Duration(r.ReflectorErrorUS*1e3))
	fmt.Fprintf(&b, "  arrived with TTL %v, DSCP %v, ECN %v\n", r.TTL, r.DSCP, r.ECN)
	r.writeReverseClass(&b)
	if r.TLVUnrecognized || r.TLVMalformed || r.TLVIntegrity {
		fmt.Fprintf(&b, "  the reflector flagged TLVs: unrecognized %v, malformed %v, integrity failed %v\n",
			r.TLVUnrecognized, r.TLVMalformed, r.TLVIntegrity)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeReverseClass writes the line of the reflected packets' DSCP, and what the reflector said of the one
// asked for.
func (r *result) writeReverseClass(b *strings.Builder) {
	fmt.Fprintf(b, "  reflected packets arrived with DSCP %v", r.ReplyDSCP)
	switch {
	case r.DSCPAsked == nil:
		b.WriteString(" (no Class of Service TLV sent)")
	case slices.Equal(r.RP, []int{0}):
		fmt.Fprintf(b, "; DSCP %d asked for: applied by the reflector (RP 0)", *r.DSCPAsked)
	case slices.Equal(r.RP, []int{1}):
		fmt.Fprintf(b, "; DSCP %d asked for: not permitted by the reflector, which kept the test packets' (RP 1)", *r.DSCPAsked)
	default:
		fmt.Fprintf(b, "; DSCP %d asked for: RP %v", *r.DSCPAsked, r.RP)
	}
	b.WriteString("\n")
}

// isClosed reports whether err is a read on a closed socket.
func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
