package listeners

import (
	"reflect"
	"strings"
	"testing"
)

// synTCP is a TCP header of a SYN with the given options (padded to 4 bytes with end-of-options).
func synTCP(opts string) string {
	for len(opts)%4 != 0 {
		opts += "\x00"
	}
	doff := byte((20 + len(opts)) / 4 << 4)
	return "\x30\x39\x1b\x5f" + "\x00\x00\x00\x01" + "\x00\x00\x00\x00" + string([]byte{doff, 0x02}) + "\xff\xff" +
		"\x00\x00\x00\x00" + opts
}

// Linux's SYN options: MSS 1460, SACK permitted, timestamps 1/0, NOP, window scale 7.
const linuxOpts = "\x02\x04\x05\xb4" + "\x04\x02" + "\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00" + "\x01" + "\x03\x03\x07"

var linuxOptions = []tcpOption{{kind: tcpOptMSS, a: 1460}, {kind: tcpOptSACKOK}, {kind: tcpOptTimestamps, a: 1},
	{kind: tcpOptWScale, a: 7}}

func TestParseSYN(t *testing.T) {
	ipv4 := func(tos, ttl byte, proto byte) string {
		return string([]byte{0x45, tos, 0, 60, 0, 0, 0x40, 0, ttl, proto, 0, 0}) + "\x7f\x00\x00\x01\x7f\x00\x00\x01"
	}
	ipv6 := func(tclass, hops, next byte) string {
		return string([]byte{0x60 | tclass>>4, tclass << 4, 0, 0, 0, 40, next, hops}) + strings.Repeat("\x00", 15) + "\x01" +
			strings.Repeat("\x00", 15) + "\x01"
	}
	hopByHop := "\x06\x00" + "\x01\x04\x00\x00\x00\x00" // next TCP, 8 bytes, a PadN option
	for _, tc := range []struct {
		name, in string
		want     synInfo
		err      string
	}{
		{"ipv4", ipv4(0x28, 63, 6) + synTCP(linuxOpts), synInfo{ttl: 63, tos: 0x28, options: linuxOptions}, ""},
		{"ipv4 with IP options", "\x46\xb8" + ipv4(0, 9, 6)[2:] + "\x01\x01\x01\x00" + synTCP("\x02\x04\x04\xb0"),
			synInfo{ttl: 9, tos: 0xb8, options: []tcpOption{{kind: tcpOptMSS, a: 1200}}}, ""},
		{"ipv6", ipv6(0x2e, 60, 6) + synTCP(linuxOpts), synInfo{ttl: 60, tos: 0x2e, options: linuxOptions}, ""},
		{"ipv6 hop-by-hop", ipv6(0, 1, 0) + hopByHop + synTCP("\x04\x02\x1e\x03\x00"),
			synInfo{ttl: 1, options: []tcpOption{{kind: tcpOptSACKOK}, {kind: 30}}}, ""},
		{"no options", ipv4(0, 64, 6) + synTCP(""), synInfo{ttl: 64}, ""},
		{"not tcp", ipv4(0, 64, 17) + synTCP(""), synInfo{}, "saved SYN: bad IPv4 header"},
		{"ipv6 not tcp", ipv6(0, 64, 17) + synTCP(""), synInfo{}, "saved SYN: IPv6 next header is not TCP"},
		{"short tcp", ipv4(0, 64, 6) + "\x00\x01", synInfo{}, "saved SYN: short TCP header"},
		{"bad option length", ipv4(0, 64, 6) + synTCP("\x02\x09\x05\xb4"), synInfo{}, "saved SYN: bad TCP option length"},
		{"version 5", "\x50" + strings.Repeat("\x00", 40), synInfo{}, "saved SYN: not IPv4 or IPv6"},
		{"empty", "", synInfo{}, "saved SYN: empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSYN([]byte(tc.in))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}
