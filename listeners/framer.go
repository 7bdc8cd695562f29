package listeners

import "bytes"

// Event is what Framer.Next found in the input.
type Event uint8

// The events a Framer reports.
const (
	NeedMore Event = iota // data is used up; a partial line (if any) is kept inside the framer
	Line                  // a complete line, '\n' included
	Overflow              // a line grew past the limit; its bytes up to the next '\n' are dropped
)

// Framer cuts a byte stream into lines of at most Max bytes before the '\n'. It keeps the unfinished tail of
// the stream between calls and never holds more than Max bytes. The zero value with Max set is ready to use;
// Attach lends it a buffer so that partial lines do not allocate.
type Framer struct {
	Max        int
	partial    []byte
	discarding bool
	began      bool // Next kept the start of a new unfinished line; Began reports it once
}

// Next returns the next event in data and the unread rest of data. A returned line is valid until the next
// call. Past the limit it reports Overflow once and then skips everything up to and including the next '\n'.
func (f *Framer) Next(data []byte) (ev Event, line, rest []byte) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if f.discarding {
			if i < 0 {
				return NeedMore, nil, nil
			}
			f.discarding = false
			data = data[i+1:]
			continue
		}
		if i < 0 {
			if len(f.partial) == 0 {
				f.began = true // a new line starts in data and does not end there
			}
			if len(f.partial)+len(data) > f.Max {
				f.partial = f.partial[:0]
				f.discarding = true
				return Overflow, nil, nil
			}
			f.partial = append(f.partial, data...)
			return NeedMore, nil, nil
		}
		if len(f.partial)+i > f.Max {
			f.partial = f.partial[:0]
			return Overflow, nil, data[i+1:]
		}
		if len(f.partial) == 0 {
			return Line, data[:i+1], data[i+1:]
		}
		f.partial = append(f.partial, data[:i+1]...)
		line = f.partial
		f.partial = f.partial[:0]
		return Line, line, data[i+1:]
	}
	return NeedMore, nil, nil
}

var newline = []byte{'\n'}

// PlainRun returns the length n of the longest prefix of data, at most limit bytes, made of whole lines that
// need nothing but echoing: no unfinished line is pending, no line is over Max, and (when commands is set) no
// line starts with '/'. lines is how many lines the prefix holds. The caller echoes data[:n] in one copy and
// goes on with Next from data[n:]; Next would have returned those same lines one by one.
func (f *Framer) PlainRun(data []byte, limit int, commands bool) (n, lines int) {
	if len(f.partial) > 0 || f.discarding || len(data) == 0 {
		return 0, 0
	}
	// The common case, a read of whole lines shorter than Max with no '/' anywhere (so no command), is settled
	// by two vector scans of the whole read rather than one call per line.
	if n := len(data); n <= limit && n <= f.Max+1 && data[n-1] == '\n' &&
		(!commands || bytes.IndexByte(data, '/') < 0) {
		return n, bytes.Count(data, newline)
	}
	for n < len(data) && (!commands || data[n] != '/') {
		i := bytes.IndexByte(data[n:], '\n')
		if i < 0 || i > f.Max || n+i+1 > limit {
			break
		}
		n += i + 1
		lines++
	}
	return n, lines
}

// Partial returns the unfinished line kept so far (nil while an overlong line is being skipped).
func (f *Framer) Partial() []byte {
	if f.discarding {
		return nil
	}
	return f.partial
}

// Pending reports whether a line has begun and not ended: bytes of it are kept, or it is being skipped.
func (f *Framer) Pending() bool { return len(f.partial) > 0 || f.discarding }

// Began reports whether a line that is still pending began in the input given to Next since the last call.
// The caller times a line from there (line_timeout).
func (f *Framer) Began() bool {
	b := f.began
	f.began = false
	return b
}

// Buffered reports how many bytes of an unfinished line the framer holds.
func (f *Framer) Buffered() int { return len(f.partial) }

// Attach lends the framer an empty buffer for partial lines.
func (f *Framer) Attach(buf []byte) { f.partial = buf[:0] }

// Attached reports whether the framer holds a buffer.
func (f *Framer) Attached() bool { return f.partial != nil }

// Detach takes the framer's buffer back, dropping any unfinished line but keeping the skipping state.
func (f *Framer) Detach() []byte {
	b := f.partial
	f.partial = nil
	return b
}
