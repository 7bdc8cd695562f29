package listeners

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// The TLS transport. crypto/tls wants a blocking net.Conn, and a tls.Conn holds its keys and record sequence
// numbers where nobody else can reach them, so the one tls.Conn of a connection is kept for its whole life
// over a net.Conn of echogate's own, tlsWire. During the handshake (tls_handshake.go) the wire blocks on Go's
// poller through a duplicate of the socket. Once the loop owns the connection, the wire never blocks: its
// Read is a non-blocking recv(2) on the loop's socket that says "would block" as an error crypto/tls treats as
// temporary (it keeps what it has buffered and is asked again later), and its Write appends the records to a
// buffer that the loop writes out. So the loop reads and writes records itself, with no goroutine per
// established connection, and everything above c.recv and c.send (framing, commands, limits, backpressure,
// half-close, lingering, timeouts) is the plain connection's code.

// tlsState is the TLS side of a connection: nil on a plain one (a pointer, so that an idle plain connection
// stays as small as it was).
type tlsState struct {
	conn     *tls.Conn
	wire     tlsWire
	eof      bool // the peer's close_notify, or its FIN, was read: recv returns the end from now on
	notified bool // our close_notify is queued (or was sent)
}

// tlsSendChunk bounds the plaintext encrypted by one send: one full record, so that the ciphertext the
// socket may leave behind is at most one record (about 16 KiB) on top of the connection's output queue.
const tlsSendChunk = 16 << 10

// recv reads plaintext into buf: it decrypts the records the socket holds until buf is full or the socket is
// empty. A short read therefore means, as for a plain socket, that everything was read.
func (s *tlsState) recv(buf []byte) (int, error) {
	if s.eof {
		return 0, nil
	}
	total := 0
	for total < len(buf) {
		n, err := s.conn.Read(buf[total:])
		total += n
		switch {
		case err == nil && !s.wire.filled && !tlsBuffered(s.conn):
			// the socket's last read gave less than there was room for, so it is empty, and the tls.Conn
			// holds nothing more: as after a short plain read, the recv(2) that would only say EAGAIN is
			// saved
			return total, nil
		case err == nil:
			continue
		case errors.Is(err, errWouldBlock):
			if total > 0 {
				return total, nil
			}
			return -1, unix.EAGAIN
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			// a FIN without close_notify is an end too: echo has no message a truncation could forge
			s.eof = true
			if total > 0 {
				return total, nil
			}
			return 0, nil
		default:
			if total > 0 {
				return total, nil // the error comes again at the next read
			}
			return -1, err
		}
	}
	return total, nil
}

// send encrypts up to tlsSendChunk bytes of buf and writes the records out. It takes nothing while records of
// an earlier send are still waiting for room (EAGAIN), so the ciphertext in wait stays bounded.
func (s *tlsState) send(fd int, buf []byte) (int, error) {
	if err := s.wire.flush(fd); err != nil {
		return -1, err
	}
	if s.wire.unsent() {
		return -1, unix.EAGAIN
	}
	n := min(len(buf), tlsSendChunk)
	if _, err := s.conn.Write(buf[:n]); err != nil {
		return -1, err
	}
	if err := s.wire.flush(fd); err != nil && !errors.Is(err, unix.EAGAIN) {
		return -1, err
	}
	return n, nil
}

// unsent reports whether records are waiting for room in the socket (false on a plain connection).
func (s *tlsState) unsent() bool { return s != nil && s.wire.unsent() }

// flushRecords writes the records in wait; it reports false if that failed and c was closed.
func (c *tcpConn) flushRecords(l *Loop) bool {
	if !c.tls.unsent() {
		return true
	}
	if err := c.tls.wire.flush(int(c.fd)); err != nil && !errors.Is(err, unix.EAGAIN) {
		c.close(l, "write error")
		return false
	}
	return true
}

// queueCloseNotify queues our close_notify once, before the write side is shut, so that the peer reads the
// end of the TLS stream and not a truncation. It does nothing on a plain connection.
func (c *tcpConn) queueCloseNotify() {
	if s := c.tls; s != nil && !s.notified {
		s.notified = true
		_ = s.conn.CloseWrite() // an error is one the next write reports
	}
}

// errWouldBlock is what tlsWire.Read returns when the socket holds nothing more. crypto/tls keeps a temporary
// net.Error out of its sticky error state, so the same tls.Conn reads on once the socket has more.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tls wire: would block" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

// tlsWire is the net.Conn under a connection's tls.Conn. While hs is set it belongs to the handshake's
// goroutine and blocks on Go's poller; after, it belongs to the loop and never blocks.
type tlsWire struct {
	fd   int
	hs   *handshake // set during the handshake (tls_handshake.go)
	pool *bufPool   // the loop's, for out
	out  []byte     // records the socket did not take yet
	addr net.Addr   // the peer, for crypto/tls' error messages
	// filled is set when the last read filled the buffer it was given: the socket may hold more
	filled bool
}

// Read reads what the socket holds.
func (w *tlsWire) Read(p []byte) (int, error) {
	if w.hs != nil {
		return w.hs.read(p)
	}
	for {
		n, err := readNB(w.fd, p)
		w.filled = n == len(p)
		switch {
		case n > 0:
			return n, nil
		case n == 0:
			return 0, io.EOF
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return 0, errWouldBlock
		}
		return 0, err
	}
}

// Write queues p. crypto/tls writes a record at a time and reuses its buffer, so p is copied; the loop writes
// what a send produced in one system call.
func (w *tlsWire) Write(p []byte) (int, error) {
	if w.hs != nil {
		return w.hs.write(p)
	}
	if w.out == nil {
		w.out = w.pool.get()
	}
	w.out = append(w.out, p...)
	return len(p), nil
}

// unsent reports whether records wait to be written.
func (w *tlsWire) unsent() bool { return len(w.out) > 0 }

// flush writes the records in wait until they are gone (and gives the buffer back) or the socket is full
// (EAGAIN).
func (w *tlsWire) flush(fd int) error {
	for len(w.out) > 0 {
		n, err := writeNB(fd, w.out)
		switch {
		case n > 0:
			w.out = w.out[:copy(w.out, w.out[n:])]
			continue
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return err
		}
	}
	if w.out != nil {
		w.pool.put(w.out)
		w.out = nil
	}
	return nil
}

// Close is called by crypto/tls only when a handshake is cut short; the connection closes its socket itself.
func (w *tlsWire) Close() error {
	if w.hs != nil {
		return w.hs.closeDup()
	}
	return nil
}

// LocalAddr is not known to the wire; crypto/tls does not ask.
func (w *tlsWire) LocalAddr() net.Addr { return nil }

// RemoteAddr is the peer.
func (w *tlsWire) RemoteAddr() net.Addr { return w.addr }

// SetDeadline bounds the handshake's reads and writes; after it, the loop's timers bound the connection.
func (w *tlsWire) SetDeadline(t time.Time) error {
	if w.hs != nil {
		return w.hs.file.SetDeadline(t)
	}
	return nil
}

// SetReadDeadline is SetDeadline for reads.
func (w *tlsWire) SetReadDeadline(t time.Time) error { return w.SetDeadline(t) }

// SetWriteDeadline is SetDeadline: crypto/tls sets one only around close_notify.
func (w *tlsWire) SetWriteDeadline(t time.Time) error {
	if w.hs != nil {
		return w.hs.file.SetWriteDeadline(t)
	}
	return nil
}
