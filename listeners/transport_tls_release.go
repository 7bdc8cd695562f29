package listeners

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"unsafe"
)

// A tls.Conn keeps the buffers its handshake grew: the raw input that held the ClientHello (a client offering
// a post-quantum key share sends about 1.5 KiB), the handshake messages, and the reader over the last record.
// Measured with 2 000 idle connections, they were 5.4 KiB of the 7.7 KiB a connection held. crypto/tls has
// no way to give them back, so echogate empties them itself when they hold nothing unread, after the
// handshake and whenever the connection goes idle with a raw input buffer over tlsKeepRaw: an empty bytes.Buffer or bytes.Reader with no array behaves exactly as one with
// an array, and grows again as it needs. The fields are found by name; should a Go release rename them,
// nothing is released (and TestReleaseHandshakeBuffers fails), nothing breaks.

// tlsIdleFields are the tls.Conn fields that may be emptied.
var tlsIdleFields = func() (f struct {
	rawInput, hand, input uintptr
	ok                    bool
}) {
	t := reflect.TypeFor[tls.Conn]()
	for _, want := range []struct {
		name string
		typ  reflect.Type
		off  *uintptr
	}{
		{"rawInput", reflect.TypeFor[bytes.Buffer](), &f.rawInput},
		{"hand", reflect.TypeFor[bytes.Buffer](), &f.hand},
		{"input", reflect.TypeFor[bytes.Reader](), &f.input},
	} {
		sf, ok := t.FieldByName(want.name)
		if !ok || sf.Type != want.typ {
			return f
		}
		*want.off = sf.Offset
	}
	f.ok = true
	return f
}()

// tlsKeepRaw is the raw input buffer an idle connection keeps: a buffer that small (lines of up to a few
// hundred bytes need about 600) is kept, so a connection echoing short lines never allocates; a larger one,
// grown by a burst or by the handshake, is given back. A client that sends data right behind its Finished
// leaves the handshake's buffer (1.5 to 2 KiB with a post-quantum key share) holding it when the handshake
// ends, so that buffer is given back at the first idle: at 2 KiB it stayed, 1.3 KiB per idle connection.
const tlsKeepRaw = 1 << 10

// releaseHandshakeBuffers gives back the buffers of c's finished handshake that hold nothing unread. It
// reports whether it could look at them. c must not be in use by another goroutine.
func releaseHandshakeBuffers(c *tls.Conn) bool { return trimTLS(c, 0) }

// idle is told that the connection has nothing in flight: it gives back the buffers of its tls.Conn that
// hold nothing and have grown over tlsKeepRaw. Nothing on a plain connection.
func (s *tlsState) idle() {
	if s != nil {
		trimTLS(s.conn, tlsKeepRaw)
	}
}

// trimTLS empties c's raw input (and the reader over it) if it holds nothing unread and over keep bytes,
// and its handshake buffer if it holds nothing.
func trimTLS(c *tls.Conn, keep int) bool {
	f := tlsIdleFields
	if !f.ok {
		return false
	}
	base := unsafe.Pointer(c)
	raw := (*bytes.Buffer)(unsafe.Add(base, f.rawInput))
	hand := (*bytes.Buffer)(unsafe.Add(base, f.hand))
	input := (*bytes.Reader)(unsafe.Add(base, f.input))
	if input.Len() == 0 && raw.Len() == 0 && raw.Cap() > keep {
		*input = bytes.Reader{} // it points into rawInput's array
		*raw = bytes.Buffer{}
	}
	if hand.Len() == 0 && hand.Cap() > 0 {
		*hand = bytes.Buffer{}
	}
	return true
}

// tlsBuffered reports whether c holds input it has not handed out: decrypted data, or raw bytes of a record.
// It is true when the fields are not known, so that the caller reads on to be sure.
func tlsBuffered(c *tls.Conn) bool {
	f := tlsIdleFields
	if !f.ok {
		return true
	}
	base := unsafe.Pointer(c)
	return (*bytes.Buffer)(unsafe.Add(base, f.rawInput)).Len() > 0 || (*bytes.Reader)(unsafe.Add(base, f.input)).Len() > 0
}
