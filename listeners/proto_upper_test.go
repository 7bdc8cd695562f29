package listeners

import (
	"bytes"
	"io"
	"testing"
	"time"

	"echogate/config"
)

// upperProtocol is an example of a TCP protocol, served by the real loop: it echoes in upper case, ends the
// connection after a '!', and says "BYE" when the peer half-closes. It takes one line per call, so the
// connection must hold the rest and offer it again. Adding a protocol to echogate is this: one file, a config
// value (here modeUpper), one init line.
type upperProtocol struct{}

const modeUpper config.Mode = "upper"

func init() { registerTCPProtocol(modeUpper, upperProtocol{}) }

func (upperProtocol) serve(l *Loop, c *tcpConn, data []byte) int {
	n := len(data)
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		n = i + 1
	}
	out := l.outBuf(c.io)
	for _, b := range data[:n] {
		if 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		}
		out = append(out, b)
		if b == '!' {
			c.end() // what is flushed is answered; the rest of the input is not
			break
		}
	}
	c.io.out = out
	return n
}

func (upperProtocol) halfClosed(l *Loop, c *tcpConn) {
	c.io.out = append(l.outBuf(c.io), "BYE\n"...)
}

func TestExampleProtocol(t *testing.T) {
	for _, tc := range []struct {
		name      string
		send      string
		halfClose bool
		want      string // everything read until EOF
	}{
		{"lines held and offered again", "one\ntwo\nthree\n", true, "ONE\nTWO\nTHREE\nBYE\n"},
		{"half-close answers what is left", "last", true, "LASTBYE\n"},
		{"the protocol ends the connection", "stop!ignored\nnot answered\n", false, "STOP!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lc := testListener("upper", config.TCP)
			lc.Mode = modeUpper
			l, addrs := startLoop(t, lc)
			c := dialLoop(t, addrs["upper"], 5*time.Second)
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			if tc.halfClose {
				if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			got, err := io.ReadAll(c)
			if string(got) != tc.want || err != nil {
				t.Fatalf("read %q (%v), want %q then EOF", got, err, tc.want)
			}
			if s := l.Snapshot(); s.Listeners["upper"].BytesIn != uint64(len(tc.send)) {
				t.Fatalf("bytes_in %d, want %d", s.Listeners["upper"].BytesIn, len(tc.send))
			}
		})
	}
}
