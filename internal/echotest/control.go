package echotest

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// ControlLine sends line (when not empty) on a new connection to the control socket sock and returns the
// one-line answer without its newline (15 s at most).
func ControlLine(t *testing.T, sock, line string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	var werr error
	if line != "" {
		// A daemon that turns the client away ("busy") answers and closes without reading: the write may
		// then fail while the answer already waits to be read, so the answer decides.
		_, werr = io.WriteString(c, line)
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("control %q: write: %v; read: %v (got %q)", line, werr, err, reply)
	}
	return strings.TrimSuffix(reply, "\n")
}
