package listeners

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"strings"
	"testing"
)

// v2 builds a version 2 header: signature, version 2 with cmd, family, length, then body.
func v2(cmd, fam byte, body string) string {
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(body)))
	return string(proxyV2Sig) + string([]byte{0x20 | cmd, fam}) + string(n[:]) + body
}

// tlv is one v2 TLV.
func tlv(typ byte, v string) string {
	return string([]byte{typ, byte(len(v) >> 8), byte(len(v))}) + v
}

const (
	v4Block = "\xc0\x00\x02\x01\x0a\x00\x00\x01\x30\x39\x1f\x90" // 192.0.2.1:12345 → 10.0.0.1:8080
	v6Block = "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" +
		"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x30\x39\x1f\x90" // [2001:db8::1]:12345 → [2001:db8::2]:8080
)

// withCRC returns the v2 header h, whose last TLV is a zeroed CRC32C, with its checksum filled in.
func withCRC(h string) string {
	b := []byte(h)
	binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return string(b)
}

func TestParseProxyHeader(t *testing.T) {
	ssl := tlv(pp2SSL, "\x07\x00\x00\x00\x00"+tlv(pp2SSLVersion, "TLSv1.3")+tlv(pp2SSLCN, "client.example")+
		tlv(pp2SSLCipher, "TLS_AES_128_GCM_SHA256"))
	for _, tc := range []struct {
		name, in string
		want     string // "src dst local" of the header, or the error
		n        int    // header length; 0 = all of in
	}{
		{"v1 tcp4", "PROXY TCP4 192.0.2.1 10.0.0.1 12345 8080\r\n", "192.0.2.1:12345 10.0.0.1:8080 false", 0},
		{"v1 tcp6", "PROXY TCP6 2001:db8::1 2001:db8::2 12345 8080\r\nhello\n", "[2001:db8::1]:12345 [2001:db8::2]:8080 false", 47},
		{"v1 unknown", "PROXY UNKNOWN\r\n", "invalid AddrPort invalid AddrPort true", 0},
		{"v1 unknown long", "PROXY UNKNOWN ffff:f::1 ffff:f::2 65535 65535\r\n", "invalid AddrPort invalid AddrPort true", 0},
		{"v1 split", "PROXY TCP4 192.0.2.1 10.0", "proxy header incomplete", 0},
		{"v1 prefix", "PRO", "proxy header incomplete", 0},
		{"v1 lf only", "PROXY TCP4 192.0.2.1 10.0.0.1 12345 8080\n", "proxy v1: line ends without CRLF", 0},
		{"v1 no crlf", "PROXY " + strings.Repeat("x", 120), "proxy v1: no CRLF in the first 107 bytes", 0},
		{"v1 leading zero port", "PROXY TCP4 192.0.2.1 10.0.0.1 012345 8080\r\n", `proxy v1: bad port "012345"`, 0},
		{"v1 leading zero octet", "PROXY TCP4 192.0.2.01 10.0.0.1 1 8080\r\n", `proxy v1: bad address "192.0.2.01"`, 0},
		{"v1 family mismatch", "PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n", `proxy v1: bad address "2001:db8::1"`, 0},
		{"v1 port range", "PROXY TCP4 192.0.2.1 10.0.0.1 65536 2\r\n", `proxy v1: bad port "65536"`, 0},
		{"v1 udp", "PROXY UDP4 192.0.2.1 10.0.0.1 1 2\r\n", `proxy v1: unknown protocol "UDP4"`, 0},
		{"v1 fields", "PROXY TCP4 192.0.2.1 10.0.0.1 1\r\n", "proxy v1: want 5 fields after PROXY", 0},
		{"v1 two spaces", "PROXY TCP4  192.0.2.1 10.0.0.1 1 2\r\n", "proxy v1: want 5 fields after PROXY", 0},
		{"v2 tcp4", v2(1, 0x11, v4Block), "192.0.2.1:12345 10.0.0.1:8080 false", 0},
		{"v2 tcp6 with data", v2(1, 0x21, v6Block) + "hello\n", "[2001:db8::1]:12345 [2001:db8::2]:8080 false", 52},
		{"v2 local", v2(0, 0x00, ""), "invalid AddrPort invalid AddrPort true", 0},
		{"v2 local with addresses", v2(0, 0x11, v4Block), "invalid AddrPort invalid AddrPort true", 0},
		{"v2 local short block", v2(0, 0x11, "\x01\x02"), "invalid AddrPort invalid AddrPort true", 0},
		{"v2 unspec proxy", v2(1, 0x00, "\x01\x02\x03"), "invalid AddrPort invalid AddrPort false", 0},
		{"v2 unix", v2(1, 0x31, strings.Repeat("\x00", 216)), "invalid AddrPort invalid AddrPort false", 0},
		{"v2 tlvs", v2(1, 0x11, v4Block+tlv(pp2ALPN, "h2")+tlv(pp2NOOP, "")+ssl), "192.0.2.1:12345 10.0.0.1:8080 false", 0},
		{"v2 crc ok", withCRC(v2(1, 0x11, v4Block+tlv(pp2CRC32C, "\x00\x00\x00\x00"))), "192.0.2.1:12345 10.0.0.1:8080 false", 0},
		{"v2 crc bad", v2(1, 0x11, v4Block+tlv(pp2CRC32C, "\x01\x02\x03\x04")), "proxy v2: CRC32C mismatch", 0},
		{"v2 sig prefix", "\r\n\r\n\x00", "proxy header incomplete", 0},
		{"v2 fixed part split", string(proxyV2Sig) + "\x21", "proxy header incomplete", 0},
		{"v2 block split", v2(1, 0x11, v4Block)[:20], "proxy header incomplete", 0},
		{"v2 version 1", strings.Replace(v2(1, 0x11, v4Block), "\x21\x11", "\x11\x11", 1), "proxy v2: version 1", 0},
		{"v2 command 2", v2(2, 0x11, v4Block), "proxy v2: unknown command 2", 0},
		{"v2 family 4", v2(1, 0x41, v4Block), "proxy v2: unknown address family 4", 0},
		{"v2 transport 3", v2(1, 0x13, v4Block), "proxy v2: unknown transport 3", 0},
		{"v2 short block", v2(1, 0x21, v4Block), "proxy v2: address block shorter than its family's", 0},
		{"v2 truncated tlv", v2(1, 0x11, v4Block+"\x01\x00"), "proxy v2: truncated TLV", 0},
		{"v2 tlv too long", v2(1, 0x11, v4Block+"\x01\x00\x09ab"), "proxy v2: TLV longer than the header", 0},
		{"v2 ssl short", v2(1, 0x11, v4Block+tlv(pp2SSL, "\x01")), "proxy v2: SSL TLV shorter than 5 bytes", 0},
		{"v2 unique id long", v2(1, 0x11, v4Block+tlv(pp2UniqueID, strings.Repeat("u", 129))), "proxy v2: unique ID over 128 bytes", 0},
		{"v2 too big", v2(1, 0x11, v4Block+tlv(pp2NOOP, strings.Repeat("n", 4096))), "proxy v2: header of 4127 bytes is over 4096", 0},
		{"not proxy", "hello\n", "no proxy header", 0},
		{"not proxy v2-like", "\r\n\r\nx", "no proxy header", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := parseProxyHeader([]byte(tc.in))
			got := h.src.String() + " " + h.dst.String() + " " + map[bool]string{true: "true", false: "false"}[h.local]
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if want := tc.n; err == nil && (want == 0 && n != len(tc.in) || want != 0 && n != want) {
				t.Errorf("length %d of %d", n, len(tc.in))
			}
		})
	}
}

// The TLVs /whoami json reports are read, and unknown ones are listed by type.
func TestParseProxyTLVs(t *testing.T) {
	in := v2(1, 0x11, v4Block+tlv(pp2ALPN, "h2")+tlv(pp2Authority, "echo.example")+tlv(pp2UniqueID, "id-1")+
		tlv(pp2SSL, "\x05\x00\x00\x00\x01"+tlv(pp2SSLVersion, "TLSv1.3")+tlv(pp2SSLCN, "cn")+tlv(pp2SSLCipher, "c"))+
		tlv(pp2NetNS, "blue")+tlv(0xea, "vpce-1"))
	h, _, err := parseProxyHeader([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := proxyTLVs{alpn: "h2", authority: "echo.example", uniqueID: "id-1", netns: "blue", ssl: true, sslClient: 5,
		sslVerify: 1, sslVersion: "TLSv1.3", sslCN: "cn", sslCipher: "c", other: []uint8{0xea}}
	if h.tlv.alpn != want.alpn || h.tlv.authority != want.authority || h.tlv.uniqueID != want.uniqueID ||
		h.tlv.netns != want.netns || !h.tlv.ssl || h.tlv.sslClient != 5 || h.tlv.sslVerify != 1 ||
		h.tlv.sslVersion != want.sslVersion || h.tlv.sslCN != want.sslCN || h.tlv.sslCipher != want.sslCipher ||
		len(h.tlv.other) != 1 || h.tlv.other[0] != 0xea {
		t.Errorf("tlvs %+v, want %+v", h.tlv, want)
	}
	if h.src != netip.MustParseAddrPort("192.0.2.1:12345") || h.family != 0x11 || h.version != 2 {
		t.Errorf("header %+v", h)
	}
}

// FuzzProxyHeader checks that any input parses without panicking, that a header's length lies within the
// input, that the header alone parses the same, and that every prefix of a header is reported incomplete:
// a header split across reads at any byte is read whole.
func FuzzProxyHeader(f *testing.F) {
	for _, s := range []string{"PROXY TCP4 192.0.2.1 10.0.0.1 1 2\r\n", "PROXY UNKNOWN\r\n", v2(0, 0, ""),
		v2(1, 0x11, v4Block+tlv(pp2ALPN, "h2")), v2(1, 0x21, v6Block), "hello\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseProxyHeader(b)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("length %d of %d", n, len(b))
		}
		h2, n2, err2 := parseProxyHeader(b[:n])
		if err2 != nil || n2 != n || h2.src != h.src || h2.local != h.local {
			t.Fatalf("the header alone parses as %+v %d %v", h2, n2, err2)
		}
		for k := range n {
			if _, _, err := parseProxyHeader(b[:k]); !errors.Is(err, errProxyShort) {
				t.Fatalf("prefix %q of header %q: %v", b[:k], b[:n], err)
			}
		}
	})
}
