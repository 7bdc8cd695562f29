package listeners

import (
	"bytes"
	"strings"
	"testing"
)

// frame feeds chunks through a framer and records what it reports, as "L:<line>" and "OVF".
func frame(max int, chunks ...string) []string {
	f := Framer{Max: max}
	var got []string
	for _, chunk := range chunks {
		data := []byte(chunk)
		for {
			ev, line, rest := f.Next(data)
			switch ev {
			case Line:
				got = append(got, "L:"+string(line))
			case Overflow:
				got = append(got, "OVF")
			}
			data = rest
			if ev == NeedMore {
				break
			}
		}
	}
	return got
}

func TestFramer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int
		chunks []string
		want   []string
	}{
		{"one line", 10, []string{"abc\n"}, []string{"L:abc\n"}},
		{"crlf kept", 10, []string{"a\r\nb\n"}, []string{"L:a\r\n", "L:b\n"}},
		{"empty line", 10, []string{"\n"}, []string{"L:\n"}},
		{"nul passes", 10, []string{"a\x00b\n"}, []string{"L:a\x00b\n"}},
		{"split across reads", 10, []string{"ab", "c", "d\n"}, []string{"L:abcd\n"}},
		{"many in one read", 10, []string{"a\nb\nc\n"}, []string{"L:a\n", "L:b\n", "L:c\n"}},
		{"exactly max", 3, []string{"abc\n"}, []string{"L:abc\n"}},
		{"cr counts", 3, []string{"abc\r\n"}, []string{"OVF"}},
		{"max plus one in one read", 3, []string{"abcd\nok\n"}, []string{"OVF", "L:ok\n"}},
		{"overflow across reads", 3, []string{"ab", "cd", "ef\nok\n"}, []string{"OVF", "L:ok\n"}},
		{"partial then overflow", 3, []string{"abc", "d\nz\n"}, []string{"OVF", "L:z\n"}},
		{"two overflows", 2, []string{"xxxx\nyyyy\n"}, []string{"OVF", "OVF"}},
		{"no newline keeps partial", 5, []string{"abc"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := frame(tc.max, tc.chunks...)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFramerPlainRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		data     string
		limit    int
		commands bool
		n, lines int
	}{
		{"all plain", "ab\ncd\n", 100, true, 6, 2},
		{"stops at partial", "ab\ncd", 100, true, 3, 1},
		{"stops at command", "ab\n/ti\ncd\n", 100, true, 3, 1},
		{"command echoed when off", "/ti\n", 100, false, 4, 1},
		{"stops at overlong", "ab\nabcdef\n", 100, true, 3, 1},
		{"stops at limit", "ab\ncd\n", 5, true, 3, 1},
		{"empty lines", "\n\n", 100, true, 2, 2},
		{"slash inside lines", "a/b\ncd/\n", 100, true, 8, 2},
		{"slash inside, then a command", "a/b\n/x\n", 100, true, 4, 1},
		{"whole read but one line overlong", "abcdef\n", 100, true, 0, 0},
		{"whole read over the limit", "ab\ncd\n", 6, true, 6, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Framer{Max: 4}
			n, lines := f.PlainRun([]byte(tc.data), tc.limit, tc.commands)
			if n != tc.n || lines != tc.lines {
				t.Fatalf("PlainRun = %d, %d; want %d, %d", n, lines, tc.n, tc.lines)
			}
		})
	}
	f := Framer{Max: 4}
	f.Next([]byte("ab"))
	if n, _ := f.PlainRun([]byte("c\nd\n"), 100, true); n != 0 {
		t.Fatalf("PlainRun with a partial line pending = %d, want 0", n)
	}
}

func TestFramerPartialAndDetach(t *testing.T) {
	f := Framer{Max: 8}
	f.Attach(make([]byte, 0, 16))
	f.Next([]byte("abc"))
	if got := string(f.Partial()); got != "abc" {
		t.Fatalf("Partial = %q", got)
	}
	f.Next([]byte("defghijk")) // 11 bytes: over the limit, now skipping
	if f.Partial() != nil {
		t.Fatalf("Partial while skipping = %q, want nil", f.Partial())
	}
	f.Detach()
	ev, line, _ := f.Next([]byte("zz\nok\n"))
	if ev != Line || string(line) != "ok\n" {
		t.Fatalf("after detach: %v %q, want the skip to go on to the next line", ev, line)
	}
}

// TestFramerBegan checks when the framer says a pending line began in the latest input: line_timeout times a
// line from there, so a line that goes on in a later read must not be restarted, and one that starts after
// the end of another (or of a skipped overlong line) must be.
func TestFramerBegan(t *testing.T) {
	for _, tc := range []struct {
		name    string
		chunks  []string
		pending []bool // after each chunk
		began   []bool
	}{
		{"whole lines", []string{"a\n", "b\nc\n"}, []bool{false, false}, []bool{false, false}},
		{"one line in three reads", []string{"ab", "cd", "e\n"}, []bool{true, true, false}, []bool{true, false, false}},
		{"a new line after a whole one", []string{"ab", "c\nde"}, []bool{true, true}, []bool{true, true}},
		{"an overlong line in one read", []string{"abcdefghij", "kl", "\n"}, []bool{true, true, false}, []bool{true, false, false}},
		{"overlong after a slow start", []string{"abc", "defghij", "k"}, []bool{true, true, true}, []bool{true, false, false}},
		{"a new line after a skipped one", []string{"abcdefghij", "k\nxy"}, []bool{true, true}, []bool{true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Framer{Max: 8}
			f.Attach(make([]byte, 0, 16))
			for i, chunk := range tc.chunks {
				for data := []byte(chunk); len(data) > 0; {
					_, _, data = f.Next(data)
				}
				if p, b := f.Pending(), f.Began(); p != tc.pending[i] || b != tc.began[i] {
					t.Fatalf("after %q: pending %v, began %v; want %v, %v", chunk, p, b, tc.pending[i], tc.began[i])
				}
			}
		})
	}
}

// FuzzFramer checks that the framer, fed any bytes in any chunking, never returns a line longer than the
// limit, never loses or invents bytes of good lines, and never holds more than the limit.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), uint8(3), uint16(8))
	f.Add([]byte("a\r\nb\n\x00\n"), uint8(1), uint16(4))
	f.Add([]byte(strings.Repeat("x", 100)+"\nok\n"), uint8(7), uint16(16))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, max uint16) {
		limit := int(max%64) + 1
		step := int(chunk%16) + 1
		fr := Framer{Max: limit}
		var lines [][]byte
		for off := 0; off < len(data); off += step {
			lines = feedFramer(t, &fr, data[off:min(off+step, len(data))], lines)
		}
		// PlainRun must agree with Next: its prefix is exactly the lines Next returns, none a command.
		var pf Framer
		pf.Max = limit
		n, count := pf.PlainRun(data, len(data), true)
		rest, got := data[:n], 0
		for {
			ev, line, r := pf.Next(rest)
			if ev == NeedMore {
				break
			}
			if ev != Line || line[0] == '/' {
				t.Fatalf("PlainRun prefix %q holds event %v %q", data[:n], ev, line)
			}
			got++
			rest = r
		}
		if got != count || pf.Buffered() != 0 {
			t.Fatalf("PlainRun counted %d lines, Next found %d (buffered %d) in %q", count, got, pf.Buffered(), data[:n])
		}
		if rn, rlines := plainRunLineByLine(data, limit, len(data)); rn != n || rlines != count {
			t.Fatalf("PlainRun = %d, %d; line by line %d, %d in %q", n, count, rn, rlines, data)
		}
		// every good line must appear in the input, in order
		pos := 0
		for _, l := range lines {
			i := bytes.Index(data[pos:], l)
			if i < 0 {
				t.Fatalf("line %q not found in input after offset %d", l, pos)
			}
			pos += i + len(l)
		}
	})
}

// feedFramer gives one read to fr, as the line protocol does, checks every line it returns and the framer's
// bound, and returns lines with the new ones appended. The TLS fuzz target (transport_tls_fuzz_test.go)
// feeds it what the TLS transport decrypted.
func feedFramer(t *testing.T, fr *Framer, in []byte, lines [][]byte) [][]byte {
	t.Helper()
	for {
		ev, line, rest := fr.Next(in)
		if ev == Line {
			if len(line)-1 > fr.Max || line[len(line)-1] != '\n' {
				t.Fatalf("bad line %q (limit %d)", line, fr.Max)
			}
			lines = append(lines, bytes.Clone(line))
		}
		if fr.Buffered() > fr.Max {
			t.Fatalf("framer holds %d bytes, limit %d", fr.Buffered(), fr.Max)
		}
		in = rest
		if ev == NeedMore {
			return lines
		}
	}
}

// plainRunLineByLine is PlainRun with commands on, written the plain way: the fuzz target checks that the
// whole-read shortcut takes exactly as much.
func plainRunLineByLine(data []byte, max, limit int) (n, lines int) {
	for n < len(data) && data[n] != '/' {
		i := bytes.IndexByte(data[n:], '\n')
		if i < 0 || i > max || n+i+1 > limit {
			break
		}
		n += i + 1
		lines++
	}
	return n, lines
}
