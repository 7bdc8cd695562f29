package listeners

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"echogate/internal/testcert"
)

// FuzzTLSFramer fuzzes the path from ciphertext to the framer: a client encrypts data as records, the
// ciphertext (with one byte flipped when flip is not 0) reaches the server's socket step bytes at a time,
// and the server's TLS transport, after a real handshake through the handshake pool's code, decrypts what
// each read finds and feeds it to the line framer with the plain framer's harness (feedFramer). Intact
// ciphertext must give exactly the lines of the plaintext; with a flipped byte, only a prefix of the
// plaintext may ever come out (no forged byte reaches the framer), and the reads must still come to an end.
func FuzzTLSFramer(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), uint8(3), uint16(8), uint16(0), uint8(0))
	f.Add([]byte("a\r\nb\n\x00\n"), uint8(1), uint16(4), uint16(9), uint8(0x80))
	f.Add(bytes.Repeat([]byte("0123456789\n"), 500), uint8(255), uint16(16), uint16(3), uint8(1))
	ca := testcert.NewCA(f, "fuzz CA")
	serverCfg := &tls.Config{Certificates: []tls.Certificate{ca.Server(f, "fuzz").TLS(f)}}
	clientCfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, max uint16, flipAt uint16, flip uint8) {
		fuzzTLSOnce(t, serverCfg, clientCfg, data, chunk, max, flipAt, flip)
	})
}

// fuzzTLSOnce is one run of FuzzTLSFramer.
func fuzzTLSOnce(t *testing.T, serverCfg, clientCfg *tls.Config, data []byte, chunk uint8, max uint16, flipAt uint16, flip uint8) {
	{
		limit := int(max%64) + 1
		step := int(chunk)*7 + 1
		server, sock, cipher := tlsPair(t, serverCfg, clientCfg, data)
		corrupt := flip != 0 && len(cipher) > 0
		if corrupt {
			cipher[int(flipAt)%len(cipher)] ^= flip
		}
		fr := Framer{Max: limit}
		var lines [][]byte
		var plain []byte
		buf := make([]byte, 4096)
		var readErr error
		end := false
		drain := func() { // what the socket holds now, as the loop reads it
			for readErr == nil && !end {
				n, err := server.recv(buf)
				if n > 0 {
					plain = append(plain, buf[:n]...)
					lines = feedFramer(t, &fr, buf[:n], lines)
				}
				switch {
				case errors.Is(err, unix.EAGAIN):
					return
				case err != nil:
					readErr = err
				case n == 0:
					end = true
				}
			}
		}
		for off := 0; off < len(cipher) && readErr == nil; off += step {
			if _, err := unix.Write(sock, cipher[off:min(off+step, len(cipher))]); err != nil {
				t.Fatal(err)
			}
			drain()
		}
		_ = unix.Shutdown(sock, unix.SHUT_WR) // a record cut short by the flip ends here
		drain()
		switch {
		case !bytes.HasPrefix(data, plain):
			t.Fatalf("decrypted %q, not a prefix of the plaintext", plain)
		case !corrupt && (readErr != nil || !bytes.Equal(plain, data)):
			t.Fatalf("intact records: %d of %d bytes, %v", len(plain), len(data), readErr)
		case readErr == nil && !end:
			t.Fatal("the reads never reached the end of the stream")
		}
		if !corrupt {
			want := Framer{Max: limit}
			if exp := feedFramer(t, &want, data, nil); len(exp) != len(lines) {
				t.Fatalf("%d lines through TLS, %d from the plaintext", len(lines), len(exp))
			}
		}
	}
}

// tlsPair does a handshake over a socket pair, the server's side through the handshake code the loop uses,
// and returns the server's TLS state in the loop's mode, the client's raw socket, and data as the records the
// client's tls.Conn makes of it (one record per 512 bytes, so that records cross the reads).
func tlsPair(t *testing.T, serverCfg, clientCfg *tls.Config, data []byte) (*tlsState, int, []byte) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fds[0]); _ = unix.Close(fds[1]) })
	h := &handshake{fd: fds[0], slots: make(chan struct{}, 1), config: serverCfg,
		deadline: time.Now().Add(10 * time.Second)}
	pool := &bufPool{size: poolBufSize}
	h.state = &tlsState{wire: tlsWire{fd: fds[0], hs: h, pool: pool}}
	cf := os.NewFile(uintptr(dupFD(t, fds[1])), "client")
	nc, err := net.FileConn(cf)
	_ = cf.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	rec := &recordingConn{Conn: nc}
	client := tls.Client(rec, clientCfg)
	var wg sync.WaitGroup
	var serr error
	wg.Go(func() { serr = h.do() })
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if serr != nil {
		t.Fatal(serr)
	}
	rec.record = true
	for off := 0; off < len(data); off += 512 {
		if _, err := client.Write(data[off:min(off+512, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	return h.state, fds[1], rec.out.Bytes()
}

func dupFD(t *testing.T, fd int) int {
	t.Helper()
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// recordingConn passes writes to its Conn until record is set, then keeps them.
type recordingConn struct {
	net.Conn
	record bool
	out    bytes.Buffer
}

func (r *recordingConn) Write(p []byte) (int, error) {
	if r.record {
		return r.out.Write(p)
	}
	return r.Conn.Write(p)
}
