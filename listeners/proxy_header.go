package listeners

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"strconv"
)

// The PROXY protocol header (HAProxy's doc/proxy-protocol.txt) that a load balancer sends before a client's
// bytes to say whom it relays: version 1 is one text line, version 2 a binary block with a 12-byte signature.
// parseProxyHeader reads either from the bytes a connection has received so far; it does not read the socket,
// so a header split across reads is offered again, longer, until it is complete.

// proxyV2Sig is the first 12 bytes of every version 2 header.
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// proxyV1Prefix starts every version 1 header.
var proxyV1Prefix = []byte("PROXY ")

const (
	proxyV1Max = 107 // the longest version 1 line, CRLF included ("PROXY UNKNOWN" with two IPv6 addresses)
	// proxyV2Max bounds a version 2 header, TLVs included. The format allows 16+65535 bytes; what balancers
	// send (addresses, ALPN, authority, a unique ID, SSL details, an AWS or Azure endpoint ID) is a few hundred.
	proxyV2Max = 4096
)

// The errors of parseProxyHeader besides a malformed header.
var (
	errProxyShort = errors.New("proxy header incomplete") // a prefix of a header: wait for more bytes
	errNotProxy   = errors.New("no proxy header")         // the bytes do not start with a header signature
)

// proxyHeader is what a PROXY header said.
type proxyHeader struct {
	version uint8 // 1 or 2
	// local is a v2 LOCAL or a v1 UNKNOWN header: the balancer's own connection (a health check); the
	// connection is served as its socket peer and the addresses, if any, are ignored.
	local    bool
	proxied  bool           // src and dst are the client's addresses
	family   uint8          // v2: the address family and transport byte (0x11 TCP over IPv4, …); v1: 0
	src, dst netip.AddrPort // the client and the address it connected to, when proxied
	tlv      *proxyTLVs     // nil when the header has none
}

// proxyTLVs are the v2 TLVs echogate reports in /whoami json. Each is "" when it was not sent.
type proxyTLVs struct {
	alpn, authority, uniqueID, netns string
	ssl                              bool // a PP2_TYPE_SSL TLV was sent
	sslClient                        uint8
	sslVerify                        uint32
	sslVersion, sslCN, sslCipher     string
	other                            []uint8 // the types of the other TLVs, in order
}

// The TLV types of the spec that echogate reads.
const (
	pp2ALPN       = 0x01
	pp2Authority  = 0x02
	pp2CRC32C     = 0x03
	pp2NOOP       = 0x04
	pp2UniqueID   = 0x05
	pp2SSL        = 0x20
	pp2SSLVersion = 0x21
	pp2SSLCN      = 0x22
	pp2SSLCipher  = 0x23
	pp2NetNS      = 0x30
)

// parseProxyHeader parses the header at the start of b. It returns the header and its length; errProxyShort
// when b is a prefix of a header (or of a signature) and more bytes must come; errNotProxy when b starts with
// neither signature; any other error for a malformed header.
func parseProxyHeader(b []byte) (proxyHeader, int, error) {
	if len(b) == 0 {
		return proxyHeader{}, 0, errProxyShort
	}
	switch {
	case hasPrefixOrIsPrefix(b, proxyV2Sig):
		return parseProxyV2(b)
	case hasPrefixOrIsPrefix(b, proxyV1Prefix):
		return parseProxyV1(b)
	}
	return proxyHeader{}, 0, errNotProxy
}

// hasPrefixOrIsPrefix reports whether b starts with sig or is a start of it.
func hasPrefixOrIsPrefix(b, sig []byte) bool {
	n := min(len(b), len(sig))
	return bytes.Equal(b[:n], sig[:n])
}

// parseProxyV1 parses "PROXY TCP4|TCP6 src dst sport dport\r\n" or "PROXY UNKNOWN…\r\n".
func parseProxyV1(b []byte) (proxyHeader, int, error) {
	end := bytes.Index(b[:min(len(b), proxyV1Max)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= proxyV1Max {
			return proxyHeader{}, 0, errors.New("proxy v1: no CRLF in the first 107 bytes")
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return proxyHeader{}, 0, errors.New("proxy v1: line ends without CRLF")
		}
		return proxyHeader{}, 0, errProxyShort
	}
	h := proxyHeader{version: 1}
	line := b[len(proxyV1Prefix):end]
	if bytes.HasPrefix(line, []byte("UNKNOWN")) && (len(line) == 7 || line[7] == ' ') { // the rest is ignored
		h.local = true
		return h, end + 2, nil
	}
	var fields [5][]byte
	for i := range fields {
		f, rest, more := bytes.Cut(line, []byte(" "))
		if more == (i == len(fields)-1) {
			return proxyHeader{}, 0, errors.New("proxy v1: want 5 fields after PROXY")
		}
		fields[i], line = f, rest
	}
	var want4 bool
	switch string(fields[0]) {
	case "TCP4":
		want4 = true
	case "TCP6":
	default:
		return proxyHeader{}, 0, errors.New("proxy v1: unknown protocol " + strconv.Quote(string(fields[0])))
	}
	src, err1 := parseV1Addr(fields[1], fields[3], want4)
	dst, err2 := parseV1Addr(fields[2], fields[4], want4)
	if err := errors.Join(err1, err2); err != nil {
		return proxyHeader{}, 0, err
	}
	h.proxied, h.src, h.dst = true, src, dst
	return h, end + 2, nil
}

// parseV1Addr parses an address of the announced family and a port in decimal without leading zeros.
func parseV1Addr(addr, port []byte, want4 bool) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(string(addr)) // refuses IPv4 octets with leading zeros
	if err != nil || a.Is4() != want4 || a.Zone() != "" {
		return netip.AddrPort{}, errors.New("proxy v1: bad address " + strconv.Quote(string(addr)))
	}
	p, err := strconv.ParseUint(string(port), 10, 16)
	if err != nil || len(port) > 1 && port[0] == '0' {
		return netip.AddrPort{}, errors.New("proxy v1: bad port " + strconv.Quote(string(port)))
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// parseProxyV2 parses the binary header: signature, version and command, family, length, addresses, TLVs.
func parseProxyV2(b []byte) (proxyHeader, int, error) {
	if len(b) < 16 {
		return proxyHeader{}, 0, errProxyShort
	}
	verCmd, fam := b[12], b[13]
	size := 16 + int(binary.BigEndian.Uint16(b[14:16]))
	switch {
	case verCmd>>4 != 2:
		return proxyHeader{}, 0, errors.New("proxy v2: version " + strconv.Itoa(int(verCmd>>4)))
	case verCmd&0xf > 1:
		return proxyHeader{}, 0, errors.New("proxy v2: unknown command " + strconv.Itoa(int(verCmd&0xf)))
	case size > proxyV2Max:
		return proxyHeader{}, 0, errors.New("proxy v2: header of " + strconv.Itoa(size) + " bytes is over 4096")
	case len(b) < size:
		return proxyHeader{}, 0, errProxyShort
	}
	h := proxyHeader{version: 2, local: verCmd&0xf == 0, family: fam}
	block := b[16:size]
	n, err := h.addresses(block)
	if err == nil && n < len(block) {
		h.tlv = &proxyTLVs{}
		err = h.tlv.parse(b[:size], block[n:])
	}
	if err != nil {
		return proxyHeader{}, 0, err
	}
	return h, size, nil
}

// addresses reads the address block of family h.family and returns its length. A PROXY header of family
// AF_UNSPEC or AF_UNIX names no IP client: it is served as its socket peer, as LOCAL is.
func (h *proxyHeader) addresses(block []byte) (int, error) {
	var alen int
	switch h.family >> 4 {
	case 0x0:
		return len(block), nil // AF_UNSPEC: the whole block is skipped, whatever it holds
	case 0x1:
		alen = 12
	case 0x2:
		alen = 36
	case 0x3:
		alen = 216
	default:
		return 0, errors.New("proxy v2: unknown address family " + strconv.Itoa(int(h.family>>4)))
	}
	if t := h.family & 0xf; t > 2 {
		return 0, errors.New("proxy v2: unknown transport " + strconv.Itoa(int(t)))
	}
	if h.local && len(block) < alen {
		return len(block), nil // LOCAL ignores the family: a block too short for it is skipped whole
	}
	if len(block) < alen {
		return 0, errors.New("proxy v2: address block shorter than its family's")
	}
	if h.local || h.family>>4 == 0x3 || h.family&0xf == 0 {
		return alen, nil // LOCAL, unix sockets, an unspecified transport: addresses ignored
	}
	ipLen := (alen - 4) / 2
	src, _ := netip.AddrFromSlice(block[:ipLen])
	dst, _ := netip.AddrFromSlice(block[ipLen : 2*ipLen])
	ports := block[2*ipLen:]
	h.src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(ports[0:2]))
	h.dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(ports[2:4]))
	h.proxied = true
	return alen, nil
}

// parse reads the TLVs after the addresses. header is the whole header, for the CRC32C check.
func (t *proxyTLVs) parse(header, b []byte) error {
	for len(b) > 0 {
		if len(b) < 3 {
			return errors.New("proxy v2: truncated TLV")
		}
		typ, n := b[0], int(binary.BigEndian.Uint16(b[1:3]))
		if len(b) < 3+n {
			return errors.New("proxy v2: TLV longer than the header")
		}
		v := b[3 : 3+n]
		switch typ {
		case pp2ALPN:
			t.alpn = string(v)
		case pp2Authority:
			t.authority = string(v)
		case pp2UniqueID:
			if n > 128 {
				return errors.New("proxy v2: unique ID over 128 bytes")
			}
			t.uniqueID = string(v)
		case pp2NetNS:
			t.netns = string(v)
		case pp2CRC32C:
			if err := checkCRC32C(header, len(header)-len(b)+3, v); err != nil {
				return err
			}
		case pp2SSL:
			if err := t.parseSSL(v); err != nil {
				return err
			}
		case pp2NOOP:
		default:
			t.other = append(t.other, typ)
		}
		b = b[3+n:]
	}
	return nil
}

// parseSSL reads a PP2_TYPE_SSL value: client flags, verify result, then sub-TLVs.
func (t *proxyTLVs) parseSSL(v []byte) error {
	if len(v) < 5 {
		return errors.New("proxy v2: SSL TLV shorter than 5 bytes")
	}
	t.ssl, t.sslClient, t.sslVerify = true, v[0], binary.BigEndian.Uint32(v[1:5])
	for sub := v[5:]; len(sub) > 0; {
		if len(sub) < 3 {
			return errors.New("proxy v2: truncated SSL sub-TLV")
		}
		typ, n := sub[0], int(binary.BigEndian.Uint16(sub[1:3]))
		if len(sub) < 3+n {
			return errors.New("proxy v2: SSL sub-TLV longer than its TLV")
		}
		switch val := string(sub[3 : 3+n]); typ {
		case pp2SSLVersion:
			t.sslVersion = val
		case pp2SSLCN:
			t.sslCN = val
		case pp2SSLCipher:
			t.sslCipher = val
		}
		sub = sub[3+n:]
	}
	return nil
}

// checkCRC32C verifies a PP2_TYPE_CRC32C value at offset at in header: the CRC32c of the whole header with
// the value's four bytes zeroed.
func checkCRC32C(header []byte, at int, v []byte) error {
	if len(v) != 4 {
		return errors.New("proxy v2: CRC32C TLV of " + strconv.Itoa(len(v)) + " bytes")
	}
	want := binary.BigEndian.Uint32(v)
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	h.Write(header[:at])
	h.Write(make([]byte, 4))
	h.Write(header[at+4:])
	if h.Sum32() != want {
		return errors.New("proxy v2: CRC32C mismatch")
	}
	return nil
}
