package main

import (
	"bytes"
	"net"
	"time"

	"echogate/internal/gso"
)

// loopUDP sends a batch of datagrams, collects their echoes until the deadline, and starts again. A datagram
// that does not come back in time is counted as an error; a late one is ignored.
func (w *worker) loopUDP() {
	s := w.o.size
	for {
		t0, measuring, ok := w.start()
		if !ok {
			return
		}
		if err := w.writeUDP(s); err != nil {
			w.fail("write", err)
			return
		}
		good, ok := w.readUDP(t0, measuring)
		w.seq += uint64(w.o.pipeline)
		if measuring {
			w.roundTrips += uint64(good)
		}
		if !ok {
			return
		}
	}
}

// maxGSOSegments bounds the datagrams of one UDP_SEGMENT message, at what older kernels allow
// (UDP_MAX_SEGMENTS); the message's payload is bounded by one datagram's, maxUDPSize.
const maxGSOSegments = 64

// writeUDP sends the batch's datagrams of s bytes: one write each, or with -gso one UDP_SEGMENT message, which
// the kernel takes through its send path once and cuts into the same datagrams at the end.
func (w *worker) writeUDP(s int) error {
	if !w.o.gso || w.o.pipeline == 1 {
		for i := 0; i < w.o.pipeline; i++ {
			if _, err := w.conn.Write(w.out[i*s : (i+1)*s]); err != nil {
				return err
			}
		}
		return nil
	}
	if w.gsoCtl == nil {
		w.gsoCtl = gso.Control(s)
	}
	_, _, err := w.conn.(*net.UDPConn).WriteMsgUDP(w.out, w.gsoCtl, nil)
	return err
}

// readUDP reads the echoes of the batch starting at w.seq; good counts the intact ones, ok is false when
// the socket failed.
func (w *worker) readUDP(t0 time.Time, measuring bool) (good int, ok bool) {
	clear(w.seen)
	pending := w.o.pipeline
	for pending > 0 {
		n, err := w.conn.Read(w.in)
		if isTimeout(err) {
			w.errors += uint64(pending)
			w.ctl.diag.printf("conn %d: %d datagram(s) not echoed within %v", w.id, pending, w.o.timeout)
			return good, true
		}
		if err != nil {
			w.fail("read", err)
			return good, false
		}
		conn, seq, parsed := parseHeader(w.in[:n])
		switch {
		case parsed && conn == w.id && seq < w.seq:
			continue // the late echo of a datagram already counted as lost
		case parsed && conn == w.id && seq-w.seq < uint64(w.o.pipeline) && !w.seen[seq-w.seq]:
			i := int(seq - w.seq)
			w.seen[i] = true
			pending--
			if bytes.Equal(w.in[:n], w.out[i*w.o.size:(i+1)*w.o.size]) {
				good++
				if measuring {
					w.hist.record(int64(time.Since(t0)))
				}
				continue
			}
		}
		w.errors++
		w.ctl.diag.printf("conn %d: unexpected datagram of %d bytes: %q", w.id, n, excerpt(w.in[:n], 0))
	}
	return good, true
}
