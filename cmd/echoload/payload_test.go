package main

import (
	"bytes"
	"testing"
)

func TestFillLine(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int
		conn      uint32
		seq       uint64
		parseable bool
	}{
		{"empty line", 1, 0, 0, false},
		{"short", 2, 7, 9, false},
		{"header cut", headerLen, 1, 2, false},
		{"smallest parseable", minUDPSize, 0xdeadbeef, 0x0123456789abcdef, true},
		{"64 bytes", 64, 3, 1 << 40, true},
		{"4 KiB", 4096, 999, 12345, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newLineMaker(tc.size)
			line := make([]byte, tc.size)
			m.fill(line, tc.conn, tc.seq)
			if line[len(line)-1] != '\n' || bytes.IndexByte(line, '\n') != len(line)-1 {
				t.Fatalf("line %q: want exactly one '\\n', at the end", line)
			}
			if line[0] == '/' {
				t.Fatalf("line %q starts with '/'", line)
			}
			conn, seq, ok := parseHeader(line)
			if ok != tc.parseable || (ok && (conn != tc.conn || seq != tc.seq)) {
				t.Fatalf("parseHeader(%q) = %d, %d, %v; want %d, %d, %v", line, conn, seq, ok, tc.conn, tc.seq, tc.parseable)
			}
			other := make([]byte, tc.size)
			m.fill(other, tc.conn, tc.seq+1)
			if tc.parseable && bytes.Equal(line, other) {
				t.Fatalf("lines %d and %d are equal: %q", tc.seq, tc.seq+1, line)
			}
		})
	}
}

func TestParseHeaderRejects(t *testing.T) {
	good := make([]byte, 40)
	newLineMaker(40).fill(good, 5, 6)
	for _, tc := range []struct {
		name string
		at   int
		b    byte
	}{
		{"prefix", 0, 'x'},
		{"conn digit", 3, 'g'},
		{"upper case", 12, 'A'},
		{"separator", 9, '_'},
		{"tag", 10, 't'},
		{"trailing space", 27, 'a'},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(good)
			b[tc.at] = tc.b
			if _, _, ok := parseHeader(b); ok {
				t.Fatalf("parseHeader(%q) accepted a corrupted header", b)
			}
		})
	}
	if _, _, ok := parseHeader(good[:headerLen-1]); ok {
		t.Fatal("parseHeader accepted a short header")
	}
}

func TestFirstDiff(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		at        int
	}{
		{"abc", "abc", -1},
		{"ab", "abc", -1},
		{"abd", "abc", 2},
		{"xbc", "abc", 0},
		{"abcd", "abc", 3},
	} {
		if at := firstDiff([]byte(tc.got), []byte(tc.want)); at != tc.at {
			t.Errorf("firstDiff(%q, %q) = %d, want %d", tc.got, tc.want, at, tc.at)
		}
	}
}

func BenchmarkFill64x16(b *testing.B) {
	m := newLineMaker(64)
	out := make([]byte, 64*16)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range 16 {
			m.fill(out[j*64:(j+1)*64], 1, uint64(i*16+j))
		}
	}
}
