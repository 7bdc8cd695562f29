package systemd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"echogate/internal/testcert"
)

// The TLS listener of the packaged-unit test: its certificate and key are credentials of the service,
// loaded by a drop-in, as the README says.
const (
	tlsAddr     = "127.0.0.1:7443"
	tlsListener = "\n[[listener]]\nname = \"tls\"\nprotocol = \"tcp\"\naddress = \"" + tlsAddr + "\"\n" +
		"tls_cert_credential = \"tls.crt\"\ntls_key_credential = \"tls.key\"\n"
	tlsDropIn  = "/etc/systemd/system/echogate.service.d/tls.conf"
	tlsCreds   = "[Service]\nLoadCredential=tls.crt:/etc/echogate/tls.crt\nLoadCredential=tls.key:/etc/echogate/tls.key\n"
	idleDropIn = "/etc/systemd/system/echogate.service.d/sched-idle.conf"
	idleAllow  = "[Service]\nSystemCallFilter=sched_setattr\n"
)

// checkTLSPriority serves a TLS listener under the packaged unit: its seccomp filter refuses sched_setattr,
// so the handshakes run at normal priority and the daemon says so once; with the README's drop-in that
// allows it, a handshake thread is in SCHED_IDLE.
func (c *container) checkTLSPriority(t *testing.T, config string) {
	t.Helper()
	ca := testcert.NewCA(t, "packaged unit test CA")
	pair := ca.Server(t, "localhost")
	c.writeFile(t, "/etc/echogate/tls.crt", string(pair.CertPEM))
	c.writeFile(t, "/etc/echogate/tls.key", string(pair.KeyPEM))
	c.must(t, "chmod", "0600", "/etc/echogate/tls.key")
	c.writeFile(t, tlsDropIn, tlsCreds)
	c.writeFile(t, configInside, config+tlsListener)
	c.must(t, "systemctl", "daemon-reload")
	cursor := c.journalCursor(t)
	c.must(t, "systemctl", "restart", "echogate.service")
	c.expectTLSEcho(t, ca.Pool())
	c.expectJournal(t, cursor, "TLS handshakes at normal priority")
	if n := c.idleThreads(t); n != 0 {
		t.Errorf("%d echogate threads in SCHED_IDLE under a filter that refuses sched_setattr", n)
	}

	c.writeFile(t, idleDropIn, idleAllow)
	c.must(t, "systemctl", "daemon-reload")
	cursor = c.journalCursor(t)
	c.must(t, "systemctl", "restart", "echogate.service")
	c.expectTLSEcho(t, ca.Pool())
	if n := c.idleThreads(t); n == 0 {
		t.Error("no echogate thread in SCHED_IDLE with the drop-in that allows sched_setattr")
	}
	if out, _ := c.run(10*time.Second, "journalctl", "--no-pager", "-o", "cat", "--after-cursor="+cursor); strings.Contains(out, "TLS handshakes at normal priority") {
		t.Errorf("with sched_setattr allowed the daemon still says it runs handshakes at normal priority:\n%s", out)
	}
}

// expectTLSEcho has a line echoed over TLS by the listener at tlsAddr, from the container's network.
func (c *container) expectTLSEcho(t *testing.T, roots *x509.CertPool) {
	t.Helper()
	c.expectEchoWith(t, "tls", tlsAddr, func(pid int, addr, line string) error {
		return echoStream(pid, addr, line, func() (net.Conn, error) {
			return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
				&tls.Config{RootCAs: roots, ServerName: "localhost"})
		})
	})
}

// idleThreads counts the threads of the running echogate.service in SCHED_IDLE (policy 5, the 41st field of
// /proc/PID/task/TID/stat).
func (c *container) idleThreads(t *testing.T) int {
	t.Helper()
	pid := strings.TrimSpace(c.must(t, "systemctl", "show", "-p", "MainPID", "--value", "echogate.service"))
	if _, err := strconv.Atoi(pid); err != nil || pid == "0" {
		t.Fatalf("echogate.service MainPID %q", pid)
	}
	out := c.must(t, "sh", "-c", fmt.Sprintf("cat /proc/%s/task/*/stat", pid))
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		_, rest, ok := strings.Cut(line, ") ") // the command may hold spaces; the fields after it do not
		fields := strings.Fields(rest)
		if !ok || len(fields) < 39 {
			t.Fatalf("/proc/%s/task/*/stat: %q", pid, line)
		}
		if fields[38] == "5" { // field 41, counted from the state (field 3)
			n++
		}
	}
	return n
}
