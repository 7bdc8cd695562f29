package main

// A line is "c<8 hex conn id> s<16 hex sequence> " followed by filler letters and '\n'. It never starts with
// '/', so a line-mode echo server never takes it for a command, and it holds no '\n' except the last byte.

// headerLen is the length of the line header "c%08x s%016x ".
const headerLen = 1 + 8 + 2 + 16 + 1

// minUDPSize is the smallest datagram whose header can be parsed back: the header and the '\n'.
const minUDPSize = headerLen + 1

const hexDigits = "0123456789abcdef"

const alphabet = "abcdefghijklmnopqrstuvwxyz"

// lineMaker writes the lines of one size. It is read-only after newLineMaker, so workers share it.
type lineMaker struct {
	size    int
	pattern []byte // filler letters, long enough to copy from any offset below len(alphabet)
}

// newLineMaker returns a lineMaker for lines of size bytes, '\n' included (size >= 1).
func newLineMaker(size int) *lineMaker {
	p := make([]byte, size+len(alphabet))
	for i := range p {
		p[i] = alphabet[i%len(alphabet)]
	}
	return &lineMaker{size: size, pattern: p}
}

// fill writes the line of connection conn with sequence number seq into dst, which must be size bytes long.
// A line shorter than the header carries a truncated header.
func (m *lineMaker) fill(dst []byte, conn uint32, seq uint64) {
	var h [headerLen]byte
	putHeader(&h, conn, seq)
	body := dst[:len(dst)-1]
	n := copy(body, h[:])
	copy(body[n:], m.pattern[seq%uint64(len(alphabet)):])
	dst[len(dst)-1] = '\n'
}

// putHeader writes "c%08x s%016x " into h without allocating.
func putHeader(h *[headerLen]byte, conn uint32, seq uint64) {
	h[0] = 'c'
	for i := 0; i < 8; i++ {
		h[8-i] = hexDigits[conn&0xf]
		conn >>= 4
	}
	h[9], h[10] = ' ', 's'
	for i := 0; i < 16; i++ {
		h[26-i] = hexDigits[seq&0xf]
		seq >>= 4
	}
	h[27] = ' '
}

// parseHeader reads the connection id and sequence number back from a line or datagram.
func parseHeader(b []byte) (conn uint32, seq uint64, ok bool) {
	if len(b) < headerLen || b[0] != 'c' || b[9] != ' ' || b[10] != 's' || b[27] != ' ' {
		return 0, 0, false
	}
	c, ok1 := parseHex(b[1:9])
	s, ok2 := parseHex(b[11:27])
	return uint32(c), s, ok1 && ok2
}

// parseHex decodes lower-case hex digits.
func parseHex(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// firstDiff returns the index of the first byte where got and want differ, or -1 if got is a prefix of want.
func firstDiff(got, want []byte) int {
	for i := range got {
		if i >= len(want) || got[i] != want[i] {
			return i
		}
	}
	return -1
}
