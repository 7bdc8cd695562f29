package listeners

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// rawRecorder is the client's socket under its tls.Conn; it keeps every byte the client reads.
type rawRecorder struct {
	net.Conn
	got []byte
}

func (r *rawRecorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.got = append(r.got, p[:n]...)
	return n, err
}

// lastRecordType walks TLS records (type, version, length, body) and returns the last one's type.
func lastRecordType(t *testing.T, stream []byte) byte {
	t.Helper()
	var last byte
	for len(stream) > 0 {
		if len(stream) < 5 {
			t.Fatalf("%d bytes after the last whole record", len(stream))
		}
		n := 5 + (int(stream[3])<<8 | int(stream[4]))
		if len(stream) < n {
			t.Fatalf("a record of %d bytes cut at %d", n, len(stream))
		}
		last, stream = stream[0], stream[n:]
	}
	return last
}

// endWithCloseNotify echoes a line over TLS 1.2 (whose alerts travel as plain alert records), half-closes, and
// checks that the stream ends with a record of type alert (our close_notify), then EOF.
func endWithCloseNotify(t *testing.T, addr string, roots *x509.CertPool) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rec := &rawRecorder{Conn: raw}
	c := tls.Client(rec, &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: tls.VersionTLS12})
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "end\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(c); err != nil || string(got) != "end\n" {
		t.Fatalf("read %q, %v; want the echo, then the end", got, err)
	}
	const alert = 21
	if typ := lastRecordType(t, rec.got); typ != alert {
		t.Fatalf("the stream ends with a record of type %d, want %d (close_notify)", typ, alert)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// TestTLSEndsOffLoop checks that the loop hands the end of each TLS connection to a TLS thread, that every
// peer still gets our close_notify before the EOF, that every socket is closed, and that beyond maxTLSCloses
// waiting the loop ends a connection itself, just as well.
func TestTLSEndsOffLoop(t *testing.T) {
	lc, roots := testTLSListener(t, "tls")
	l, addrs := startLoop(t, lc)
	endWithCloseNotify(t, addrs["tls"], roots) // the first sets up Go's own poller, whose fds stay
	waitPending := func() {
		for deadline := time.Now().Add(5 * time.Second); l.hs.closes.pending.Load() > 0; {
			if time.Now().After(deadline) {
				t.Fatalf("%d TLS closes still pending after 5s", l.hs.closes.pending.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitPending()
	before := openFDs(t)
	const conns = 20
	for range conns {
		endWithCloseNotify(t, addrs["tls"], roots)
	}
	waitPending()
	var handed uint64
	l.Call(func() { handed = l.hs.closes.handed })
	if handed != conns+1 {
		t.Errorf("%d TLS ends handed to threads, want %d", handed, conns+1)
	}
	if after := openFDs(t); after > before { // fewer is another test's handshake giving its socket back
		t.Errorf("%d open fds before %d TLS connections, %d after they ended: sockets left open", before, conns, after)
	}
	// with maxTLSCloses waiting already (starved threads), the loop ends the connection itself, as well
	l.Call(func() { l.hs.closes.pending.Add(maxTLSCloses) })
	endWithCloseNotify(t, addrs["tls"], roots)
	l.Call(func() { handed = l.hs.closes.handed; l.hs.closes.pending.Add(-maxTLSCloses) })
	if handed != conns+1 {
		t.Errorf("%d TLS ends handed to threads with %d waiting, want %d: the bound does not hold", handed,
			maxTLSCloses, conns+1)
	}
	if after := openFDs(t); after > before {
		t.Errorf("%d open fds before, %d after the loop ended a connection itself", before, after)
	}
}
