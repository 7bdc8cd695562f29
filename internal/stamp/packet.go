// Package stamp encodes and decodes the test packets of STAMP, the Simple Two-way Active Measurement
// Protocol (RFC 8762), with the optional extensions of RFC 8972: the Session-Sender Identifier (SSID) and
// the TLVs that follow the base packet. It is a pure codec: it reads and writes bytes and never touches a
// socket or a clock, so that both the reflector and the sender share one description of the wire.
//
// Offsets are from the RFC figures (RFC 8762 §4.2 and §4.3, RFC 8972 §3). Every multi-octet field is in
// network byte order. Parsing never allocates.
package stamp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
)

// Sizes of the base packets. Unauthenticated test and reflected packets are both 44 octets; authenticated
// ones are 112, the last 16 of which are the HMAC. TLVs (RFC 8972) follow the base packet.
const (
	UnauthSize = 44
	AuthSize   = 112
	HMACSize   = 16 // HMAC-SHA-256 truncated to 128 bits
	// hmacCovered is how much of an authenticated base packet the HMAC covers: every field before it.
	hmacCovered = AuthSize - HMACSize
)

// DefaultPort is the IANA port of the STAMP (TWAMP-Test) receiver.
const DefaultPort = 862

// Test is a Session-Sender test packet (RFC 8762 §4.2, RFC 8972 §3).
type Test struct {
	Seq       uint32
	Timestamp uint64 // when it was sent, NTP or PTP format as ErrEst's Z bit says
	ErrEst    uint16
	SSID      uint16
}

// Reply is a Session-Reflector test packet (RFC 8762 §4.3, RFC 8972 §3).
type Reply struct {
	Seq          uint32 // the reflector's sequence number
	Timestamp    uint64 // T3: when the reflector sent it
	ErrEst       uint16 // the reflector's error estimate
	SSID         uint16
	RxTimestamp  uint64 // T2: when the reflector received the test packet
	SenderSeq    uint32
	SenderTime   uint64 // T1, copied from the test packet
	SenderErrEst uint16
	SenderTTL    uint8 // the TTL or hop limit the test packet arrived with
}

// Field offsets of the test packet.
var (
	testUnauth = testLayout{seq: 0, ts: 4, err: 12, ssid: 14, size: UnauthSize}
	testAuth   = testLayout{seq: 0, ts: 16, err: 24, ssid: 26, size: AuthSize}
)

type testLayout struct{ seq, ts, err, ssid, size int }

// Field offsets of the reflected packet. Its first four fields and its size are the test packet's, at the
// same offsets.
var (
	replyUnauth = replyLayout{testLayout: testUnauth, rx: 16, sseq: 24, sts: 28, serr: 36, ttl: 40}
	replyAuth   = replyLayout{testLayout: testAuth, rx: 32, sseq: 48, sts: 64, serr: 72, ttl: 80}
)

type replyLayout struct {
	testLayout               // Seq, Timestamp, ErrEst, SSID and the size
	rx, sseq, sts, serr, ttl int
}

// testLayoutOf is the layout of a test packet in the mode.
func testLayoutOf(auth bool) *testLayout {
	if auth {
		return &testAuth
	}
	return &testUnauth
}

// replyLayoutOf is the layout of a reflected packet in the mode.
func replyLayoutOf(auth bool) *replyLayout {
	if auth {
		return &replyAuth
	}
	return &replyUnauth
}

// parse reads the fields of a test packet from b, which holds at least l.size bytes.
func (l *testLayout) parse(b []byte) Test {
	return Test{
		Seq:       binary.BigEndian.Uint32(b[l.seq:]),
		Timestamp: binary.BigEndian.Uint64(b[l.ts:]),
		ErrEst:    binary.BigEndian.Uint16(b[l.err:]),
		SSID:      binary.BigEndian.Uint16(b[l.ssid:]),
	}
}

// put zeroes the l.size bytes of b and writes the fields of t.
func (l *testLayout) put(b []byte, t Test) {
	clear(b[:l.size])
	binary.BigEndian.PutUint32(b[l.seq:], t.Seq)
	binary.BigEndian.PutUint64(b[l.ts:], t.Timestamp)
	binary.BigEndian.PutUint16(b[l.err:], t.ErrEst)
	binary.BigEndian.PutUint16(b[l.ssid:], t.SSID)
}

// ErrShort is returned for a packet shorter than the base packet of its mode.
var ErrShort = errors.New("stamp: packet shorter than the base packet")

// BaseSize is the size of the base packet in the mode: UnauthSize or AuthSize.
func BaseSize(auth bool) int {
	if auth {
		return AuthSize
	}
	return UnauthSize
}

// ParseTest reads the base of a test packet. The MBZ fields are not checked: RFC 8762 §4.2.1 asks the
// reflector to ignore them, so that later extensions can use them.
func ParseTest(b []byte, auth bool) (Test, error) {
	l := testLayoutOf(auth)
	if len(b) < l.size {
		return Test{}, ErrShort
	}
	return l.parse(b), nil
}

// PutTest writes the base of a test packet into b (at least BaseSize(auth) bytes), zeroing its MBZ fields.
// In authenticated mode the HMAC field is left zero: see Sign.
func PutTest(b []byte, t Test, auth bool) {
	l := testLayoutOf(auth)
	l.put(b, t)
}

// ParseReply reads the base of a reflected packet.
func ParseReply(b []byte, auth bool) (Reply, error) {
	l := replyLayoutOf(auth)
	if len(b) < l.size {
		return Reply{}, ErrShort
	}
	head := l.parse(b)
	return Reply{
		Seq:          head.Seq,
		Timestamp:    head.Timestamp,
		ErrEst:       head.ErrEst,
		SSID:         head.SSID,
		RxTimestamp:  binary.BigEndian.Uint64(b[l.rx:]),
		SenderSeq:    binary.BigEndian.Uint32(b[l.sseq:]),
		SenderTime:   binary.BigEndian.Uint64(b[l.sts:]),
		SenderErrEst: binary.BigEndian.Uint16(b[l.serr:]),
		SenderTTL:    b[l.ttl],
	}, nil
}

// PutReply writes the base of a reflected packet into b (at least BaseSize(auth) bytes), zeroing its MBZ
// fields. In authenticated mode the HMAC field is left zero: see Sign.
func PutReply(b []byte, r Reply, auth bool) {
	l := replyLayoutOf(auth)
	l.put(b, Test{Seq: r.Seq, Timestamp: r.Timestamp, ErrEst: r.ErrEst, SSID: r.SSID})
	binary.BigEndian.PutUint64(b[l.rx:], r.RxTimestamp)
	binary.BigEndian.PutUint32(b[l.sseq:], r.SenderSeq)
	binary.BigEndian.PutUint64(b[l.sts:], r.SenderTime)
	binary.BigEndian.PutUint16(b[l.serr:], r.SenderErrEst)
	b[l.ttl] = r.SenderTTL
}

// SetReplyTimestamp overwrites the Timestamp (T3) of a reflected packet already written: it is taken as late
// as possible, after everything else.
func SetReplyTimestamp(b []byte, ts uint64, auth bool) {
	binary.BigEndian.PutUint64(b[replyLayoutOf(auth).ts:], ts)
}

// SetTestTimestamp overwrites the Timestamp (T1) of a test packet already written, so that a sender takes it
// last.
func SetTestTimestamp(b []byte, ts uint64, auth bool) {
	binary.BigEndian.PutUint64(b[testLayoutOf(auth).ts:], ts)
}

// MAC computes the HMAC-SHA-256 of STAMP packets with one key (RFC 8762 §4.4), truncated to 16 octets.
// It keeps its hash and scratch buffer, so that signing and checking do not allocate. It is not safe for
// concurrent use.
type MAC struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// NewMAC returns the MAC of key.
func NewMAC(key []byte) *MAC { return &MAC{h: hmac.New(sha256.New, key)} }

// compute returns the truncated HMAC of the concatenation of parts.
func (m *MAC) compute(parts ...[]byte) []byte {
	m.h.Reset()
	for _, p := range parts {
		m.h.Write(p)
	}
	return m.h.Sum(m.sum[:0])[:HMACSize]
}

// Sign writes the HMAC of an authenticated base packet b (test or reflected: both are 112 octets with the
// HMAC last) over the 96 octets before it.
func (m *MAC) Sign(b []byte) {
	copy(b[hmacCovered:AuthSize], m.compute(b[:hmacCovered]))
}

// Verify reports whether the HMAC of the authenticated base packet b is right, in constant time.
func (m *MAC) Verify(b []byte) bool {
	if len(b) < AuthSize {
		return false
	}
	return hmac.Equal(m.compute(b[:hmacCovered]), b[hmacCovered:AuthSize])
}

// loopWindow is how close to now a timestamp must be for LooksReflected.
const loopWindow = 24 * 3600 * 1e9

// LooksReflected reports whether b, received as a test packet, is a reflected packet: one whose Receive
// Timestamp and Session-Sender Timestamp fields both hold a time within a day of now (unix ns), in the NTP
// or the PTP format. In a test packet those octets are MBZ (or a TWAMP-Light sender's padding), so two
// reflectors that answer each other, a loop a spoofed source can start, are told apart from a sender by
// this, though no two of their packets are the same.
func LooksReflected(b []byte, auth bool, now int64) bool {
	l := replyLayoutOf(auth)
	if len(b) < l.size {
		return false
	}
	near := func(ts uint64) bool {
		for _, ptp := range []bool{false, true} {
			if d := UnixNano(ts, ptp) - now; d > -loopWindow && d < loopWindow {
				return true
			}
		}
		return false
	}
	return near(binary.BigEndian.Uint64(b[l.rx:])) && near(binary.BigEndian.Uint64(b[l.sts:]))
}
