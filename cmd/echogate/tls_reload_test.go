package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
	"echogate/listeners"
)

// TestTLSReloadRenewsCertificate renews the certificate on disk and reloads: a connection opened before goes
// on over its session, a new one gets the new certificate. A broken certificate is then refused with its
// place in the file, and the renewed one keeps serving.
func TestTLSReloadRenewsCertificate(t *testing.T) {
	d, f := tlsDaemon(t, "")
	old := echotest.DialTLS(t, d.Addr("tls"), f.ClientConfig())
	first := echotest.Serial(old)
	echotest.RoundTrip(t, old, "before\n", "before\n")

	f.Renew(t)
	renewed := f.Server.Cert.SerialNumber.String()
	mark := d.LogLines()
	d.Signal(syscall.SIGHUP)
	d.AwaitReload(t, mark)
	if _, err := d.WaitLogAfter(mark, `changed="tls files changed"`, 5*time.Second); err != nil {
		t.Error(err)
	}
	echotest.RoundTrip(t, old, "after the reload\n", "after the reload\n")
	if got := echotest.Serial(echotest.DialTLS(t, d.Addr("tls"), f.ClientConfig())); got != renewed || got == first {
		t.Fatalf("a new connection got serial %s; want the renewed %s (the first was %s)", got, renewed, first)
	}

	if err := os.WriteFile(f.CertFile, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mark = d.LogLines()
	d.Signal(syscall.SIGHUP)
	line := d.AwaitReloadFailed(t, mark)
	if !strings.Contains(line, `echogate.toml:6:1: listener \"tls\": tls_cert_file`) || !strings.Contains(line, "malformed certificate") {
		t.Errorf("reload error not placed on tls_cert_file: %s", line)
	}
	if got := echotest.Serial(echotest.DialTLS(t, d.Addr("tls"), f.ClientConfig())); got != renewed {
		t.Fatalf("after a rejected reload a new connection got serial %s, want %s", got, renewed)
	}
	echotest.RoundTrip(t, old, "still\n", "still\n")
}

// TestTLSHandshakeFloodBounded fills the handshake queue of one worker with silent clients: those beyond it
// are refused and counted at once, and served again once the queue has room. Then clients doing full
// handshakes as fast as they can, for a bounded time, are each counted once.
func TestTLSHandshakeFloodBounded(t *testing.T) {
	const queue = 256 // one worker: handshakeQueuePerWorker
	const silent = queue + 44
	d, f := tlsDaemon(t, echotest.DaemonTOML("tls_handshake_workers = 1"), `tls_handshake_timeout = "30s"`)
	conns := make([]net.Conn, 0, silent)
	for range silent {
		conns = append(conns, echotest.DialTCP(t, d.Addr("tls")))
	}
	waitTLS(t, d, "the refusals", func(s listeners.ListenerStats) bool { return s.TLSRefused == silent-queue })
	if _, err := d.WaitLog("reason=tls_queue", 5*time.Second); err != nil {
		t.Error(err)
	}
	if _, err := echotest.DialTLSErr(d.Addr("tls"), f.ClientConfig()); err == nil {
		t.Fatal("a handshake was served while the queue was full")
	}
	for _, c := range conns {
		_ = c.Close()
	}
	waitTLS(t, d, "the silent handshakes ended", func(s listeners.ListenerStats) bool {
		return s.TLSHandshakeErrors == queue && s.TLSRefused == silent-queue+1
	})

	var served atomic.Uint64
	stop := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for time.Now().Before(stop) {
				c, err := echotest.DialTLSErr(d.Addr("tls"), f.ClientConfig())
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.WriteString(c, "x\n")
				if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "x\n" {
					t.Errorf("flood client got %q, %v", got, err)
				}
				_ = c.Close()
				served.Add(1)
			}
		})
	}
	wg.Wait()
	s := waitTLS(t, d, "every flood handshake counted", func(s listeners.ListenerStats) bool {
		return s.TLSHandshakes == served.Load()
	})
	t.Logf("%d full handshakes in 2 s with one worker; %d errors, %d refused", s.TLSHandshakes, s.TLSHandshakeErrors, s.TLSRefused)
}
