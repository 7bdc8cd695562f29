package main

import (
	"bytes"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// A graceful stop delivers every reply echogate had answered when it began, even to a client that pipelines
// and still has input in the daemon's socket: closing such a socket would make the kernel send a reset and
// throw away the replies still in its send queue. The client writes 4 MiB of numbered lines without reading,
// so the daemon stops reading it (backpressure) with input left unread; then the stop begins (SIGTERM, or an
// admin /shutdown from another client), and only then does the client read. It must read, up to a clean EOF,
// a prefix of what it sent made of whole lines, at least every line the daemon had counted before the stop.
func TestShutdownDeliversAnsweredLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		stop func(t *testing.T, d *echotest.Daemon)
	}{
		{"SIGTERM", func(t *testing.T, d *echotest.Daemon) { d.Signal(syscall.SIGTERM) }},
		{"admin /shutdown", func(t *testing.T, d *echotest.Daemon) {
			admin := echotest.DialTCP(t, d.Addr("ctl"))
			echotest.RoundTrip(t, admin, "/shutdown "+pToken+"\n", "OK, shutting down\n")
			if rest := echotest.ReadToEOF(t, admin); rest != "" {
				t.Errorf("after the OK got %q, want EOF", rest)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := pWriteToken(t, t.TempDir(), "tok", pToken+"\n", 0o600)
			d := echotest.Start(t, "[daemon]\nshutdown_grace = \"20s\"\n"+echotest.TCPListener("echo", "127.0.0.1:0")+
				echotest.TCPListener("ctl", "127.0.0.1:0", `token_file = "`+tok+`"`))
			sent := numberedLines(16 << 20)
			c := echotest.Dial(t, d.Addr("echo"), patient.WithRcvBuf(64<<10)) // a small window, so that 4 MiB cannot all be answered
			c.SetDeadline(time.Now().Add(60 * time.Second))
			written := make(chan error, 1)
			go func() {
				_, err := c.Write(sent)
				written <- err
			}()
			answered := awaitStalled(t, d.Addr("ctl"), "echo")
			if answered*lineLen >= len(sent) {
				t.Fatalf("the daemon answered all %d lines before the stop: nothing was left unread to test", answered)
			}
			mark := d.LogLines()
			tc.stop(t, d)
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read %d bytes, then %v; want every answered line, then a clean EOF", len(got), err)
			}
			if !bytes.HasPrefix(sent, got) || len(got)%lineLen != 0 {
				t.Fatalf("got %d bytes that are not whole lines of what was sent", len(got))
			}
			if len(got) < answered*lineLen {
				t.Fatalf("got %d lines, want at least the %d answered before the stop", len(got)/lineLen, answered)
			}
			if err := <-written; err != nil {
				t.Fatalf("writing while the daemon stopped: %v (its input should be read and dropped)", err)
			}
			c.Close()
			if _, err := d.WaitLogAfter(mark, "every connection flushed and closed", 15*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := d.Wait(15 * time.Second); err != nil {
				t.Fatalf("exit: %v, want status 0", err)
			}
			t.Logf("%d of %d lines answered before the stop, %d delivered", answered, len(sent)/lineLen,
				len(got)/lineLen)
		})
	}
}

// lineLen is the length of each line numberedLines makes.
const lineLen = 64

// numberedLines returns size bytes of lines of lineLen bytes, each starting with its number.
func numberedLines(size int) []byte {
	b := make([]byte, 0, size)
	for i := 0; len(b) < size; i++ {
		b = fmt.Appendf(b, "%08d %054d\n", i, 0)
	}
	return b
}

// awaitStalled waits until the lines counted on listener stop growing (its client stopped reading, so the
// daemon stopped reading it) and returns that count, asking /stats json on ctlAddr.
func awaitStalled(t *testing.T, ctlAddr, listener string) int {
	t.Helper()
	ctl := echotest.DialTCP(t, ctlAddr)
	defer ctl.Close()
	last := -1
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		n := int(echotest.StatsOn(t, ctl).Listeners[listener].Lines)
		if n > 0 && n == last {
			return n
		}
		last = n
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("listener %q never stopped answering (last count %d)", listener, last)
	return 0
}
