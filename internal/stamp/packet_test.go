package stamp

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// unhex decodes a worked example written from the RFC figures, spaces ignored.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The key of the worked authenticated examples; their HMACs were computed apart from this package (Python's
// hmac module over the octets written out here).
var testKey = []byte("stamp-test-key")

var exampleReply = Reply{Seq: 7, Timestamp: 0x0102030405060708, ErrEst: 0x8001, SSID: 0xabcd,
	RxTimestamp: 0x1112131415161718, SenderSeq: 5, SenderTime: 0x2122232425262728, SenderErrEst: 0x0001,
	SenderTTL: 64}

// RFC 8762 §4.3.1 with the SSID of RFC 8972 §3: Sequence Number, Timestamp, Error Estimate, SSID, Receive
// Timestamp, Session-Sender Sequence Number, Timestamp and Error Estimate, MBZ (2), Ses-Sender TTL, MBZ (3).
const exampleReplyUnauth = "00000007 0102030405060708 8001 abcd 1112131415161718 00000005 2122232425262728 " +
	"0001 0000 40 000000"

// RFC 8762 §4.3.2: the same fields with the MBZ runs of authenticated mode, then the HMAC.
const exampleReplyAuth = "00000007 000000000000000000000000 0102030405060708 8001 abcd 00000000 " +
	"1112131415161718 0000000000000000 00000005 000000000000000000000000 2122232425262728 0001 000000000000 " +
	"40 000000000000000000000000000000 154aa0fa707697ffb0c55fb3eff896d8"

func TestPutReplyUnauthenticated(t *testing.T) {
	want := unhex(t, exampleReplyUnauth)
	got := bytes.Repeat([]byte{0xee}, UnauthSize) // MBZ must be written, not left
	PutReply(got, exampleReply, false)
	if !bytes.Equal(got, want) {
		t.Fatalf("reply\n got %x\nwant %x", got, want)
	}
	back, err := ParseReply(want, false)
	if err != nil || back != exampleReply {
		t.Fatalf("ParseReply = %+v, %v; want %+v", back, err, exampleReply)
	}
}

func TestPutReplyAuthenticated(t *testing.T) {
	want := unhex(t, exampleReplyAuth)
	if len(want) != AuthSize {
		t.Fatalf("example is %d octets", len(want))
	}
	got := bytes.Repeat([]byte{0xee}, AuthSize)
	PutReply(got, exampleReply, true)
	NewMAC(testKey).Sign(got)
	if !bytes.Equal(got, want) {
		t.Fatalf("reply\n got %x\nwant %x", got, want)
	}
	if !NewMAC(testKey).Verify(want) {
		t.Fatal("Verify refuses the worked example")
	}
	want[50] ^= 1 // an MBZ octet is covered too
	if NewMAC(testKey).Verify(want) {
		t.Fatal("Verify accepts a changed packet")
	}
}

func TestParseTest(t *testing.T) {
	tests := []struct {
		name string
		auth bool
		pkt  string
	}{
		// RFC 8762 §4.2.1 / RFC 8972 §3: Sequence Number, Timestamp, Error Estimate, SSID, MBZ (28).
		{"unauthenticated", false, "00000005 2122232425262728 0001 abcd" + strings.Repeat("00", 28)},
		// RFC 8762 §4.2.2: Sequence Number, MBZ (12), Timestamp, Error Estimate, SSID, MBZ (68), HMAC.
		{"authenticated", true, "00000005 000000000000000000000000 2122232425262728 0001 abcd" +
			strings.Repeat("00", 68) + "7abf9ff8a461329c87915f482ad83feb"},
	}
	want := Test{Seq: 5, Timestamp: 0x2122232425262728, ErrEst: 1, SSID: 0xabcd}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkt := unhex(t, tt.pkt)
			got, err := ParseTest(pkt, tt.auth)
			if err != nil || got != want {
				t.Fatalf("ParseTest = %+v, %v", got, err)
			}
			built := make([]byte, BaseSize(tt.auth))
			PutTest(built, want, tt.auth)
			if tt.auth {
				NewMAC(testKey).Sign(built)
				if !NewMAC(testKey).Verify(pkt) {
					t.Error("the worked example's HMAC does not verify")
				}
			}
			if !bytes.Equal(built, pkt) {
				t.Fatalf("PutTest\n got %x\nwant %x", built, pkt)
			}
			if _, err := ParseTest(pkt[:len(pkt)-1], tt.auth); err != ErrShort {
				t.Fatalf("short packet: %v", err)
			}
		})
	}
}

func TestTimestamps(t *testing.T) {
	tests := []struct {
		ns       int64
		ntp, ptp uint64
	}{
		{0, 0x83aa7e80_00000000, 0},                        // 1970-01-01 is 2208988800 s after 1900
		{1_500_000_000, 0x83aa7e81_80000000, 0x1_1dcd6500}, // half a second is 2^31 in NTP's fraction
		{1_250_000_000, 0x83aa7e81_40000000, 0x1_0ee6b280},
	}
	for _, tt := range tests {
		if got := NTP(tt.ns); got != tt.ntp {
			t.Errorf("NTP(%d) = %#x, want %#x", tt.ns, got, tt.ntp)
		}
		if got := PTP(tt.ns); got != tt.ptp {
			t.Errorf("PTP(%d) = %#x, want %#x", tt.ns, got, tt.ptp)
		}
		if got := UnixNano(tt.ntp, false); got != tt.ns {
			t.Errorf("UnixNano(NTP %#x) = %d, want %d", tt.ntp, got, tt.ns)
		}
		if got := UnixNano(tt.ptp, true); got != tt.ns {
			t.Errorf("UnixNano(PTP %#x) = %d, want %d", tt.ptp, got, tt.ns)
		}
	}
	ns := int64(1_764_600_000_123_456_789)
	if got := UnixNano(NTP(ns), false); got < ns-1 || got > ns+1 {
		t.Errorf("NTP round trip of %d gives %d", ns, got)
	}
}

func TestErrorEstimate(t *testing.T) {
	tests := []struct {
		synced, ptp bool
		errNs       int64
		want        uint16
	}{
		{true, false, 0, 0x8001},               // S=1, Scale 0, Multiplier 1: never 0
		{false, false, 0, 0x0001},              // not synchronised: S=0
		{true, true, 0, 0xc001},                // Z=1 for PTP timestamps
		{true, false, 1000, 0x8587},            // 1 µs = 4294.97 units of 2^-32 s: 135 × 2^5 = 4320
		{false, false, 16_000_000_000, 0x1d80}, // 16 s = 2^36 units: 128 × 2^29
		{true, false, 1 << 62, 0xbfff},         // too large: the largest estimate
	}
	for _, tt := range tests {
		got := ErrorEstimate(tt.synced, tt.ptp, tt.errNs)
		if got != tt.want {
			t.Errorf("ErrorEstimate(%v, %v, %d) = %#04x, want %#04x", tt.synced, tt.ptp, tt.errNs, got, tt.want)
		}
		if tt.errNs > 0 && tt.errNs < 1<<40 && ErrorNanos(got) < tt.errNs {
			t.Errorf("%#04x decodes to %d ns, less than %d", got, ErrorNanos(got), tt.errNs)
		}
	}
}

// A reflected packet sent back to a reflector is recognised by its two timestamps; a test packet, zeroed or
// padded with random octets as TWAMP-Light senders may, is not.
func TestLooksReflected(t *testing.T) {
	now := int64(1_764_600_000_000_000_000)
	for _, auth := range []bool{false, true} {
		for _, ptp := range []bool{false, true} {
			ts := NTP
			if ptp {
				ts = PTP
			}
			b := make([]byte, BaseSize(auth))
			PutReply(b, Reply{RxTimestamp: ts(now - 1e6), SenderTime: ts(now - 2e6), Timestamp: ts(now)}, auth)
			if !LooksReflected(b, auth, now) {
				t.Errorf("auth %v ptp %v: a reflected packet is not recognised", auth, ptp)
			}
		}
		test := make([]byte, BaseSize(auth))
		PutTest(test, Test{Seq: 1, Timestamp: NTP(now)}, auth)
		if LooksReflected(test, auth, now) {
			t.Errorf("auth %v: a test packet looks reflected", auth)
		}
		random := unhex(t, strings.Repeat("9e3779b97f4a7c15f39cc0605cedc834", 8))[:BaseSize(auth)]
		if LooksReflected(random, auth, now) {
			t.Errorf("auth %v: random padding looks reflected", auth)
		}
	}
}
