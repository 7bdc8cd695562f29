package listeners

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"echogate/config"
	"echogate/internal/testcert"
)

// testTLSListener is testListener serving TLS with a fresh certificate; it returns the CA that signed it.
func testTLSListener(t testing.TB, name string) (config.Listener, *x509.CertPool) {
	t.Helper()
	ca := testcert.NewCA(t, "listeners test CA")
	lc := testListener(name, config.TCP)
	lc.TLSMinVersion, lc.TLSClientAuth, lc.TLSHandshakeTimeout = "1.2", config.TLSAuthNone, 10*time.Second
	lc.TLS = &config.TLSMaterial{Certificate: ca.Server(t, "server").TLS(t)}
	return lc, ca.Pool()
}

func dialTLS(t *testing.T, addr string, roots *x509.CertPool) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

func TestTLSLoopEchoCommandsAndHalfClose(t *testing.T) {
	lc, roots := testTLSListener(t, "tls")
	l, addrs := startLoop(t, lc)
	c := dialTLS(t, addrs["tls"], roots)
	r := bufio.NewReader(c)
	for _, line := range []string{"hello\n", "a\r\n", strings.Repeat("x", 3000) + "\n"} {
		if _, err := io.WriteString(c, line); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil || got != line {
			t.Fatalf("echo %q: got %q, %v", line, got, err)
		}
	}
	io.WriteString(c, "/stats json tls\n")
	got, err := r.ReadString('\n')
	if err != nil || !strings.Contains(got, `"tls_handshakes":1`) {
		t.Fatalf("/stats json: %q %v", got, err)
	}
	// close_notify is the half-close: the unterminated last line is answered, then our close_notify and EOF
	io.WriteString(c, "last")
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "last" {
		t.Fatalf("after close_notify: %q, %v (want \"last\" then a clean EOF)", rest, err)
	}
	var st Snapshot
	st = l.Snapshot()
	if n := st.Listeners["tls"].TLSHandshakes; n != 1 {
		t.Errorf("tls_handshakes %d", n)
	}
}

// TestTLSLoopBackpressure sends far more than max_output in raw mode without reading, then reads it all: the
// loop stops reading while its queue and the records in wait are full, and loses nothing.
func TestTLSLoopBackpressure(t *testing.T) {
	lc, roots := testTLSListener(t, "raw")
	lc.Mode, lc.MaxOutput = config.ModeRaw, 4096
	_, addrs := startLoop(t, lc)
	c := dialTLS(t, addrs["raw"], roots)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.CloseWrite()
		}
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond) // let both socket buffers fill
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read %d of %d bytes, %v", len(got), len(payload), err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestTLSStalledClientsHoldNoWorker fills the only handshake slot's queue with silent clients: a real client
// still completes its handshake long before their timeout, since a client that sends nothing holds no slot.
func TestTLSStalledClientsHoldNoWorker(t *testing.T) {
	lc, roots := testTLSListener(t, "tls")
	lc.TLSHandshakeTimeout = time.Minute
	d := testDaemon()
	d.TLSHandshakeWorkers = 1
	l, addrs := startLoopWith(t, Options{}, d, lc)
	for range 20 {
		s := dialLoop(t, addrs["tls"], time.Minute)
		s.Write([]byte{0x16, 0x03}) // the start of a record, then nothing
	}
	c := dialTLS(t, addrs["tls"], roots)
	io.WriteString(c, "through\n")
	if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "through\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	var inFlight int
	l.Call(func() { inFlight = l.hs.inFlight })
	if inFlight != 20 {
		t.Errorf("%d handshakes in flight, want the 20 stalled ones", inFlight)
	}
}

// TestReleaseHandshakeBuffers checks that the buffers a handshake grew are given back on this Go version,
// and that the connection reads and writes on after it.
func TestReleaseHandshakeBuffers(t *testing.T) {
	lc, roots := testTLSListener(t, "tls")
	state, sock, cipher := tlsPair(t, &tls.Config{Certificates: []tls.Certificate{lc.TLS.Certificate}},
		&tls.Config{RootCAs: roots, ServerName: "localhost"}, []byte("after the release\n"))
	f := tlsIdleFields
	if !f.ok {
		t.Fatal("tls.Conn has no rawInput, hand and input fields of the expected types: releaseHandshakeBuffers does nothing")
	}
	raw := (*bytes.Buffer)(unsafe.Add(unsafe.Pointer(state.conn), f.rawInput))
	hand := (*bytes.Buffer)(unsafe.Add(unsafe.Pointer(state.conn), f.hand))
	if raw.Cap() != 0 || hand.Cap() != 0 {
		t.Fatalf("after the handshake: raw input holds %d bytes, handshake buffer %d", raw.Cap(), hand.Cap())
	}
	if _, err := unix.Write(sock, cipher); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if n, err := state.recv(buf); err != nil || string(buf[:n]) != "after the release\n" {
		t.Fatalf("recv after the release: %q, %v", buf[:max(n, 0)], err)
	}
}

// BenchmarkLoopEchoTLSLine is one 64-byte line round trip over TLS 1.3. The allocations reported are the
// client's and the server's together: the client is a tls.Conn in the same process.
func BenchmarkLoopEchoTLSLine(b *testing.B) {
	lc, roots := testTLSListener(b, "bench")
	_, addrs := startLoop(b, lc)
	c, err := tls.Dial("tcp", addrs["bench"], &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS13})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	benchRoundTrips(b, c, 1, 64)
}
