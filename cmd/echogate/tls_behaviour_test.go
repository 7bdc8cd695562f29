package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
	"echogate/listeners"
)

// TestTLSLineBehaviours checks that the line protocol's limits and its endings work over TLS as over plain
// TCP: each case sends to a TLS listener with its keys and reads everything until the clean end of the TLS
// stream (echogate's close_notify, then EOF).
func TestTLSLineBehaviours(t *testing.T) {
	for _, tc := range []struct {
		name  string
		keys  []string
		send  string
		pause time.Duration // after send, before the client's own end
		want  string
		check func(s listeners.ListenerStats) bool
	}{
		{"two overlong lines end the connection with a lingering close", []string{"max_line = 8"},
			strings.Repeat("x", 20) + "\n" + strings.Repeat("y", 20) + "\nnever answered\n", 0,
			"ERR too-long-line\nERR too-long-line\n", func(s listeners.ListenerStats) bool { return s.Overflows == 2 }},
		{"line_timeout ends a slow line", []string{`line_timeout = "1s"`}, "ok\nunfinished", 0,
			"ok\nERR line-timeout\n", func(s listeners.ListenerStats) bool { return s.LineTimeouts == 1 }},
		{"idle_timeout closes a silent connection", []string{`idle_timeout = "1s"`}, "hi\n", 0,
			"hi\n", func(s listeners.ListenerStats) bool { return s.IdleClosed == 1 }},
		{"commands off echoes them", []string{"commands = false"}, "/time\n", 0,
			"/time\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, f := tlsDaemon(t, "", tc.keys...)
			c := echotest.DialTLS(t, d.Addr("tls"), f.ClientConfig())
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			if tc.name == "commands off echoes them" {
				echotest.ReadExactly(t, c, tc.want)
				return
			}
			got, err := io.ReadAll(c)
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q and the end", got, err, tc.want)
			}
			if tc.check != nil {
				waitTLS(t, d, tc.name, tc.check)
			}
			// Python's ssl tells a close_notify from a bare FIN, which crypto/tls takes as an end too
			if out := runPython(t, d.Addr("tls"), f.CAFile, "", "", tc.send, -1); out != tc.want+"<close_notify>" {
				t.Errorf("python got %q, want %q and a close_notify", out, tc.want)
			}
		})
	}
}

// TestTLSRawBackpressure sends 4 MiB in raw mode to a listener with a small output queue, without reading
// for a while: echogate stops reading while its queue is full, and every byte comes back in order.
func TestTLSRawBackpressure(t *testing.T) {
	d, f := tlsDaemon(t, "", `mode = "raw"`, "max_output = 4096")
	c := echotest.DialTLS(t, d.Addr("tls"), f.ClientConfig())
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	payload := bytes.Repeat([]byte("echogate raw over tls, "), 4<<20/23)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.CloseWrite()
		}
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("got %d of %d bytes back, %v", len(got), len(payload), err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s := waitTLS(t, d, "the connection closed", func(s listeners.ListenerStats) bool { return s.Open == 0 })
	if s.BytesIn != uint64(len(payload)) || s.BytesOut != uint64(len(payload)) {
		t.Errorf("bytes_in %d, bytes_out %d; want %d each (plaintext)", s.BytesIn, s.BytesOut, len(payload))
	}
}

// TestTLSGracefulStop stops the daemon while a TLS client is connected: it gets a clean end of the stream.
func TestTLSGracefulStop(t *testing.T) {
	d, f := tlsDaemon(t, "")
	c := echotest.DialTLS(t, d.Addr("tls"), f.ClientConfig())
	echotest.RoundTrip(t, c, "before the stop\n", "before the stop\n")
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(c); err != nil || len(got) != 0 {
		t.Fatalf("after the stop: %q, %v; want the end", got, err)
	}
}
