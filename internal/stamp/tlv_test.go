package stamp

import (
	"bytes"
	"testing"
)

// A reflector on an NTP-synchronised clock with software timestamps, that does not re-mark its replies,
// on the third packet of its session, which arrived with TOS 0x2a (DSCP 10 = AF11, ECN 2 = ECT(0)).
var exampleReflection = Reflection{TOS: 0x2a, SyncIn: SyncNTP, SyncOut: SyncNTP, MethodIn: MethodSWLocal,
	MethodOut: MethodSWLocal, RxCount: 3, TxCount: 3}

// The worked examples: a TLV area of a test packet and what the reflector must return (RFC 8972 §4: flags
// U M I in the top three bits of the first octet, then type, then the length of the value).
func TestReflectTLVs(t *testing.T) {
	tests := []struct {
		name               string
		in, want           string
		malformed, unknown int
		tos                int16 // the reply's TOS byte the TLVs decide; -1 = the socket's
		r                  Reflection
	}{
		{name: "none", in: "", want: "", tos: -1},
		// §4.1: Extra Padding comes back as it was sent; flags a sender left set are cleared.
		{name: "extra padding", in: "e0 01 0004 00000000", want: "00 01 0004 00000000", tos: -1},
		// §4.4 (DSCP1 6 bits, DSCP2 6, ECN 2, RP 2, Reserved 16; ECN copied too, erratum 8199): DSCP1 = 46 asked, not
		// permitted; DSCP2 = 10 and ECN = 2 as received; RP = 1: 46<<10 | 10<<4 | 2<<2 | 1 = 0xb8a9. The reply
		// goes with the test packet's DSCP, Not-ECT: 10<<2 = 0x28.
		{name: "class of service", in: "00 04 0004 b8000000", want: "00 04 0004 b8a90000", tos: 0x28},
		// The same, permitted: RP = 0, 46<<10 | 10<<4 | 2<<2 | 0 = 0xb8a8; the reply goes with 46<<2 = 0xb8.
		{name: "class of service permitted", in: "00 04 0004 b8000000", want: "00 04 0004 b8a80000", tos: 0xb8,
			r: Reflection{TOS: 0x2a, DSCPAllow: 1 << 46}},
		// What the sender left in DSCP2, ECN, RP and Reserved is not kept: 0xb8a9, then 0000.
		{name: "class of service, sender's bits", in: "00 04 0004 b8ffffff", want: "00 04 0004 b8a90000", tos: 0x28,
			r: Reflection{TOS: 0x2a, DSCPAllow: 1 << 10}},
		// DSCP 63 and DSCP 0, every DSCP permitted: 63<<10 | 10<<4 | 2<<2 = 0xfca8; 0<<10 | ... = 0x00a8.
		{name: "class of service 63", in: "00 04 0004 fc000000", want: "00 04 0004 fca80000", tos: 0xfc,
			r: Reflection{TOS: 0x2a, DSCPAllow: ^uint64(0)}},
		{name: "class of service 0", in: "00 04 0004 00000000", want: "00 04 0004 00a80000", tos: 0,
			r: Reflection{TOS: 0x2a, DSCPAllow: ^uint64(0)}},
		// Two TLVs, both permitted: the first decides the reply's DSCP (46, RP = 0); the second asked for 10
		// (AF11) and does not get it: 10<<10 | 10<<4 | 2<<2 | 1 = 0x28a9.
		{name: "two classes of service", in: "00 04 0004 b8000000 00 04 0004 28000000",
			want: "00 04 0004 b8a80000 00 04 0004 28a90000", tos: 0xb8, r: Reflection{TOS: 0x2a, DSCPAllow: 1<<46 | 1<<10}},
		// The TOS of the test packet unknown: DSCP2 and ECN 0; not permitted, the reply keeps the socket's.
		{name: "class of service, TOS unknown", in: "00 04 0004 b8000000", want: "00 04 0004 b8010000",
			tos: -1, r: Reflection{TOS: -1}},
		{name: "class of service, TOS unknown, permitted", in: "00 04 0004 b8000000", want: "00 04 0004 b8000000",
			tos: 0xb8, r: Reflection{TOS: -1, DSCPAllow: 1 << 46}},
		// §4.3: Sync Src In, Timestamp In, Sync Src Out, Timestamp Out: NTP (1), SW local (2).
		{name: "timestamp information", in: "00 03 0004 00000000", want: "00 03 0004 01020102", tos: -1},
		// §4.5: the sender's TxC is kept, the reflector's RxC and TxC are written.
		{name: "direct measurement", in: "00 05 000c 0000000a 00000000 00000000",
			want: "00 05 000c 0000000a 00000003 00000003", tos: -1},
		// §4.8 (the value is written by SignTLVs, not here).
		{name: "hmac", in: "00 08 0010 00112233445566778899aabbccddeeff",
			want: "00 08 0010 00112233445566778899aabbccddeeff", tos: -1},
		// §4: an unknown type comes back as it was, with U.
		{name: "unknown", in: "00 99 0002 abcd", want: "80 99 0002 abcd", unknown: 1, tos: -1},
		{name: "location is not filled in", in: "00 02 0004 00000000", want: "80 02 0004 00000000", unknown: 1,
			tos: -1},
		// M: a length wrong for the type; a length past the packet; a tail shorter than a header.
		{name: "short class of service", in: "00 04 0002 1234", want: "40 04 0002 1234", malformed: 1, tos: -1},
		{name: "short direct measurement", in: "00 05 0004 00000001", want: "40 05 0004 00000001", malformed: 1,
			tos: -1},
		{name: "past the end", in: "00 01 0010 0000", want: "40 01 0010 0000", malformed: 1, tos: -1},
		{name: "tail", in: "00 01 0000 00 01", want: "00 01 0000 40 01", malformed: 1, tos: -1},
		{name: "several", in: "00 01 0000 00 04 0004 b8000000 00 77 0000 00 03 0004 00000000",
			want: "00 01 0000 00 04 0004 b8a90000 80 77 0000 00 03 0004 01020102", unknown: 1, tos: 0x28},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			if r == (Reflection{}) {
				r = exampleReflection
			}
			b := unhex(t, tt.in)
			out := ReflectTLVs(b, &r)
			if want := unhex(t, tt.want); !bytes.Equal(b, want) {
				t.Fatalf("reflected\n got %x\nwant %x", b, want)
			}
			if out.Malformed != tt.malformed || out.Unknown != tt.unknown || out.TOS != tt.tos {
				t.Fatalf("outcome %+v, want malformed %d unknown %d TOS %#x", out, tt.malformed, tt.unknown, tt.tos)
			}
		})
	}
}

// The HMAC TLV of RFC 8972 §4.8 covers the base packet's Sequence Number and the TLVs before it. The
// expected values were computed apart from this package (Python's hmac module).
func TestTLVHMAC(t *testing.T) {
	tlvs := unhex(t, "00 01 0004 00000000 00 08 0010"+"00000000000000000000000000000000")
	at := HMACOffset(tlvs)
	if at != 12 {
		t.Fatalf("HMACOffset = %d, want 12", at)
	}
	m := NewMAC(testKey)
	m.SignTLVs(unhex(t, "00000005"), tlvs, at)
	if got, want := tlvs[at:], unhex(t, "9d9728ef33fc0d9a072d351132da2793"); !bytes.Equal(got, want) {
		t.Fatalf("test packet's HMAC TLV %x, want %x", got, want)
	}
	if !m.VerifyTLVs(unhex(t, "00000005"), tlvs, at) || m.VerifyTLVs(unhex(t, "00000006"), tlvs, at) {
		t.Fatal("VerifyTLVs does not tell the right sequence number from another")
	}
	m.SignTLVs(unhex(t, "00000007"), tlvs, at)
	if got, want := tlvs[at:], unhex(t, "2093713ddca05c320e274e45502496ee"); !bytes.Equal(got, want) {
		t.Fatalf("reflected HMAC TLV %x, want %x", got, want)
	}
	for _, s := range []string{"", "00 08 0010 00", "00 08 0004 00000000", "00 08 0010" + "00000000000000000000000000000000" + "00 01 0000"} {
		if at := HMACOffset(unhex(t, s)); at != -1 {
			t.Errorf("HMACOffset(%s) = %d, want -1 (none, malformed, or not last)", s, at)
		}
	}
}

func TestCoSRoundTrip(t *testing.T) {
	v := CoS(46)
	r := Reflection{TOS: 0x2a}
	ReflectTLVs(AppendTLV(nil, TypeClassOfService, v[:])[:0:0], &r) // an empty area is fine
	b := AppendTLV(nil, TypeClassOfService, v[:])
	ReflectTLVs(b, &r)
	tlv, rest, ok := NextTLV(b)
	if !ok || len(rest) != 0 || tlv.Type != TypeClassOfService {
		t.Fatalf("NextTLV = %+v %x %v", tlv, rest, ok)
	}
	d1, d2, ecn, rp, ok := ParseCoS(tlv.Value)
	if !ok || d1 != 46 || d2 != 10 || ecn != 2 || rp != 1 {
		t.Fatalf("ParseCoS = %d %d %d %d %v", d1, d2, ecn, rp, ok)
	}
}

// FuzzReflect feeds arbitrary packets to what the reflector runs on a test packet: the parser, the TLV walk
// and the HMAC check must never panic, and the reflected TLV area never changes size.
func FuzzReflect(f *testing.F) {
	f.Add(unhex(f, "00000005 2122232425262728 0001 abcd"+string(bytes.Repeat([]byte("00"), 28))), false)
	f.Add(append(unhex(f, "00000005 2122232425262728 0001 abcd"+string(bytes.Repeat([]byte("00"), 28))),
		unhex(f, "00 04 0004 b8000000 00 99 0002 abcd 00 01 0010 00")...), false)
	f.Fuzz(func(t *testing.T, pkt []byte, auth bool) {
		if _, err := ParseTest(pkt, auth); err != nil {
			return
		}
		m := NewMAC(testKey)
		if auth {
			_ = m.Verify(pkt)
		}
		_ = LooksReflected(pkt, auth, 1_764_600_000_000_000_000)
		tlvs := pkt[BaseSize(auth):]
		if at := HMACOffset(tlvs); at >= 0 {
			_ = m.VerifyTLVs(pkt, tlvs, at)
		}
		n := len(tlvs)
		r := exampleReflection
		out := ReflectTLVs(tlvs, &r)
		if len(tlvs) != n || out.Malformed < 0 {
			t.Fatalf("area changed size")
		}
		if out.HMACAt >= 0 {
			m.SignTLVs(pkt, tlvs, out.HMACAt)
		}
		for rest := tlvs; len(rest) > 0; {
			var ok bool
			if _, rest, ok = NextTLV(rest); !ok {
				break
			}
		}
		_, _ = ParseReply(pkt, auth)
	})
}

// BenchmarkReflectAuthenticated is the codec's share of reflecting an authenticated test packet with a Class
// of Service TLV and an HMAC TLV: checks, TLVs, reply, signatures. It must not allocate.
func BenchmarkReflectAuthenticated(b *testing.B) {
	m := NewMAC(testKey)
	pkt := make([]byte, AuthSize)
	PutTest(pkt, Test{Seq: 1}, true)
	cos := CoS(46)
	pkt = AppendTLV(AppendTLV(pkt, TypeClassOfService, cos[:]), TypeHMAC, make([]byte, HMACSize))
	r := exampleReflection
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tlvs := pkt[AuthSize:]
		_, _ = ParseTest(pkt, true)
		_ = m.Verify(pkt)
		at := HMACOffset(tlvs)
		_ = m.VerifyTLVs(pkt, tlvs, at)
		out := ReflectTLVs(tlvs, &r)
		PutReply(pkt, exampleReply, true)
		m.Sign(pkt)
		m.SignTLVs(pkt, tlvs, out.HMACAt)
	}
}

// BenchmarkReflectUnauthenticated is the codec's share of reflecting a bare 44-octet test packet.
func BenchmarkReflectUnauthenticated(b *testing.B) {
	pkt := make([]byte, UnauthSize)
	r := exampleReflection
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t, _ := ParseTest(pkt, false)
		ReflectTLVs(pkt[UnauthSize:], &r)
		PutReply(pkt, Reply{Seq: t.Seq, SenderSeq: t.Seq, SenderTime: t.Timestamp, RxTimestamp: NTP(int64(i))}, false)
		SetReplyTimestamp(pkt, NTP(int64(i)), false)
	}
}
