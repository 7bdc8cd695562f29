package stamp

import (
	"crypto/hmac"
	"encoding/binary"
)

// TLV types (RFC 8972 §4, IANA "STAMP TLV Types").
const (
	TypeExtraPadding      = 1
	TypeLocation          = 2
	TypeTimestampInfo     = 3
	TypeClassOfService    = 4
	TypeDirectMeasurement = 5
	TypeAccessReport      = 6
	TypeFollowUpTelemetry = 7
	TypeHMAC              = 8
)

// The STAMP TLV Flags (RFC 8972 §4, IANA "STAMP TLV Flags"), set by the reflector.
const (
	FlagU = 0x80 // Unrecognized: the reflector does not know the type, and returned the TLV as it came
	FlagM = 0x40 // Malformed: the TLV's length is wrong for its type, or runs past the packet
	FlagI = 0x20 // Integrity: the HMAC TLV did not verify
)

// TLVHeader is the size of a TLV header: flags (1), type (1), length of the value (2).
const TLVHeader = 4

// Value sizes of the TLVs the reflector fills in.
const (
	cosSize       = 4  // DSCP1(6) DSCP2(6) EC(2) RP(2), Reserved(16)
	tsInfoSize    = 4  // Sync Src In, Timestamp In, Sync Src Out, Timestamp Out; sub-TLVs may follow
	directMeasure = 12 // Session-Sender TxC, Session-Reflector RxC, Session-Reflector TxC
)

// Synchronization sources and timestamping methods of the Timestamp Information TLV (RFC 8972 §4.3, IANA
// "STAMP Synchronization Sources" and "STAMP Timestamping Methods").
const (
	SyncNTP       = 1
	SyncPTP       = 2
	SyncFreeRun   = 5 // local free-running clock
	MethodHW      = 1 // hardware assisted
	MethodSWLocal = 2 // software, local (the kernel's receive timestamp, the daemon's transmit one)
)

// Reflection is what the reflector knows to fill the TLVs of its reply in.
type Reflection struct {
	TOS             int16  // the TOS / traffic class byte the test packet arrived with; -1 when unknown
	DSCPAllow       uint64 // the DSCPs a Class of Service TLV may have the reply sent with, bit n for DSCP n
	SyncIn, SyncOut uint8  // synchronization sources of T2 and T3
	MethodIn        uint8  // how T2 and T3 were taken
	MethodOut       uint8
	RxCount         uint32 // test packets received in the session, this one included (Direct Measurement)
	TxCount         uint32 // reflected packets sent in the session, this one included
}

// Outcome says what ReflectTLVs found.
type Outcome struct {
	Malformed int // TLVs flagged M
	Unknown   int // TLVs flagged U
	// TOS is the TOS / traffic class byte the reply must be sent with, as a Class of Service TLV decides
	// (RFC 8972 §4.4): its DSCP1 when DSCPAllow permits it, else the DSCP the test packet arrived with; the
	// ECN bits are 0 (Not-ECT). -1 when no Class of Service TLV decides: the socket's own.
	TOS    int16
	HMACAt int // offset in the TLV area of the HMAC TLV's value; -1 when there is none
}

// HMACOffset returns the offset, in the TLV area tlvs, of the value of its HMAC TLV, or -1 when it has none
// or it is not well formed. RFC 8972 §4.8 makes the HMAC TLV the last one.
func HMACOffset(tlvs []byte) int {
	at := -1
	for off := 0; off+TLVHeader <= len(tlvs); {
		n := int(binary.BigEndian.Uint16(tlvs[off+2:]))
		end := off + TLVHeader + n
		if end > len(tlvs) {
			return -1
		}
		at = -1
		if tlvs[off+1] == TypeHMAC && n == HMACSize {
			at = off + TLVHeader
		}
		off = end
	}
	return at
}

// ReflectTLVs turns the TLV area of a test packet, in place, into the TLV area of the reflected packet
// (RFC 8972 §4): the reflector's flags are set, the TLVs it knows are filled in, the others are returned
// as they came with the U flag. A TLV whose length is wrong for its type, or that runs past the packet, is
// flagged M and left as it came; nothing after a TLV that runs past the packet can be read, so the walk
// stops there. The area never changes size: a reply is never larger than the test packet. The HMAC TLV's
// value is left for MAC.SignTLVs.
func ReflectTLVs(tlvs []byte, r *Reflection) Outcome {
	out := Outcome{TOS: -1, HMACAt: -1}
	off := 0
	for off+TLVHeader <= len(tlvs) {
		flags := &tlvs[off]
		*flags &^= FlagU | FlagM | FlagI
		typ, n := tlvs[off+1], int(binary.BigEndian.Uint16(tlvs[off+2:]))
		v := tlvs[off+TLVHeader:]
		if n > len(v) {
			*flags |= FlagM
			out.Malformed++
			return out
		}
		v = v[:n]
		out.HMACAt = -1
		ok := true
		switch typ {
		case TypeExtraPadding:
		case TypeClassOfService:
			if ok = n == cosSize; ok {
				reflectCoS(v, r, &out)
			}
		case TypeTimestampInfo:
			if ok = n >= tsInfoSize; ok {
				v[0], v[1], v[2], v[3] = r.SyncIn, r.MethodIn, r.SyncOut, r.MethodOut
			}
		case TypeDirectMeasurement:
			if ok = n == directMeasure; ok {
				binary.BigEndian.PutUint32(v[4:], r.RxCount)
				binary.BigEndian.PutUint32(v[8:], r.TxCount)
			}
		case TypeHMAC:
			if ok = n == HMACSize; ok {
				out.HMACAt = off + TLVHeader
			}
		default:
			*flags |= FlagU
			out.Unknown++
		}
		if !ok {
			*flags |= FlagM
			out.Malformed++
		}
		off += TLVHeader + n
	}
	if off < len(tlvs) { // 1 to 3 octets: not even a header
		tlvs[off] |= FlagM
		out.Malformed++
	}
	return out
}

// reflectCoS fills a Class of Service value (RFC 8972 §4.4 with erratum 8199): DSCP1 stays as the sender
// asked, DSCP2 and ECN are those the test packet arrived with, RP says whether the reply carries DSCP1 (0)
// or, DSCP1 not being permitted, the test packet's DSCP (1). The first such TLV of a packet sets the reply's
// TOS in out; a reply has one DSCP, so a later TLV asking for another gets RP = 1.
func reflectCoS(v []byte, r *Reflection, out *Outcome) {
	var dscp2, ecn uint16
	if r.TOS >= 0 {
		dscp2, ecn = uint16(r.TOS)>>2, uint16(r.TOS)&3
	}
	dscp1 := v[0] >> 2
	permitted := r.DSCPAllow>>dscp1&1 == 1
	if out.TOS < 0 {
		switch {
		case permitted:
			out.TOS = int16(dscp1) << 2
		case r.TOS >= 0:
			out.TOS = int16(dscp2) << 2
		}
	}
	rp := uint16(1)
	if permitted && out.TOS == int16(dscp1)<<2 {
		rp = 0
	}
	word := uint16(dscp1)<<10 | dscp2<<4 | ecn<<2 | rp
	binary.BigEndian.PutUint16(v, word)
	v[2], v[3] = 0, 0 // Reserved
}

// CoS builds the value of a Class of Service TLV as a sender writes it: the DSCP it asks the reply to carry.
func CoS(dscp1 uint8) [cosSize]byte {
	var v [cosSize]byte
	binary.BigEndian.PutUint16(v[:], uint16(dscp1&0x3f)<<10)
	return v
}

// ParseCoS reads a reflected Class of Service value: the DSCP asked for, the DSCP and ECN the test packet
// arrived with, and RP.
func ParseCoS(v []byte) (dscp1, dscp2, ecn, rp uint8, ok bool) {
	if len(v) != cosSize {
		return 0, 0, 0, 0, false
	}
	w := binary.BigEndian.Uint16(v)
	return uint8(w >> 10), uint8(w >> 4 & 0x3f), uint8(w >> 2 & 3), uint8(w & 3), true
}

// VerifyTLVs checks the HMAC TLV whose value is at offset at of the TLV area tlvs: RFC 8972 §4.8 computes it
// over the Sequence Number field of the base packet (seq, 4 octets) and the TLVs before the HMAC TLV.
func (m *MAC) VerifyTLVs(seq, tlvs []byte, at int) bool {
	return hmac.Equal(m.compute(seq[:4], tlvs[:at-TLVHeader]), tlvs[at:at+HMACSize])
}

// SignTLVs writes the HMAC TLV whose value is at offset at of the TLV area tlvs (see VerifyTLVs).
func (m *MAC) SignTLVs(seq, tlvs []byte, at int) {
	copy(tlvs[at:at+HMACSize], m.compute(seq[:4], tlvs[:at-TLVHeader]))
}

// AppendTLV appends a TLV with flags 0 to b.
func AppendTLV(b []byte, typ uint8, value []byte) []byte {
	b = append(b, 0, typ, byte(len(value)>>8), byte(len(value)))
	return append(b, value...)
}

// TLV is one TLV of a reflected packet, as Next reads it.
type TLV struct {
	Flags, Type uint8
	Value       []byte
}

// NextTLV reads the TLV at the start of b and returns it with the rest of b; ok is false when b holds no
// whole TLV (a malformed tail is not returned).
func NextTLV(b []byte) (t TLV, rest []byte, ok bool) {
	if len(b) < TLVHeader {
		return TLV{}, nil, false
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if TLVHeader+n > len(b) {
		return TLV{}, nil, false
	}
	return TLV{Flags: b[0], Type: b[1], Value: b[TLVHeader : TLVHeader+n]}, b[TLVHeader+n:], true
}
