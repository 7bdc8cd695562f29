package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
	"echogate/listeners"
)

// tlsDaemon serves a TLS line listener "tls" (its extra lines after the certificate's) beside a plain one,
// "plain", that the tests read /stats json on.
func tlsDaemon(t *testing.T, daemon string, extra ...string) (*echotest.Daemon, *echotest.TLSFiles) {
	t.Helper()
	f := echotest.NewTLSFiles(t, t.TempDir())
	return tlsDaemonOf(t, f, daemon, extra...), f
}

// tlsDaemonOf is tlsDaemon serving the certificate and key of f.
func tlsDaemonOf(t *testing.T, f *echotest.TLSFiles, daemon string, extra ...string) *echotest.Daemon {
	t.Helper()
	return echotest.Start(t, daemon+echotest.TCPListener("tls", "127.0.0.1:0", f.Keys(extra...)...)+
		echotest.TCPListener("plain", "127.0.0.1:0"))
}

// clientAuthKeys are the keys of a TLS listener with tls_client_auth = auth, for client certificates that
// f's CA signs.
func clientAuthKeys(f *echotest.TLSFiles, auth string) []string {
	return []string{`tls_client_auth = "` + auth + `"`, `tls_client_ca_file = "` + f.CAFile + `"`}
}

// expectOtherCARefused checks that the TLS listener, which trusts the CA in caFile, refuses a client whose
// certificate another CA signed.
func expectOtherCARefused(t *testing.T, d *echotest.Daemon, caFile string) {
	t.Helper()
	other := echotest.NewTLSFiles(t, t.TempDir())
	cert, key := other.CA.Client(t, "intruder").Write(t, other.Dir, "client")
	if out := runPython(t, d.Addr("tls"), caFile, cert, key, "x\n", 1); !strings.HasPrefix(out, "ERROR") {
		t.Fatalf("client of another CA: %q", out)
	}
}

// tlsCounters reads the TLS listener's counters through the plain listener.
func tlsCounters(t *testing.T, d *echotest.Daemon) listeners.ListenerStats {
	t.Helper()
	return echotest.Stats(t, d.Addr("plain")).Listeners["tls"]
}

// waitTLS waits until the TLS listener's counters satisfy ok.
func waitTLS(t *testing.T, d *echotest.Daemon, what string, ok func(listeners.ListenerStats) bool) listeners.ListenerStats {
	t.Helper()
	s := echotest.WaitStats(t, d.Addr("plain"), what, func(s listeners.Snapshot) bool { return ok(s.Listeners["tls"]) })
	return s.Listeners["tls"]
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed (.ci/run installs it)", name)
	}
}

// client is a TLS client program talking to the daemon: its stdin and stdout, and its stderr once it exits.
type client struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr strings.Builder
}

func startClient(t *testing.T, name string, args ...string) *client {
	t.Helper()
	needTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	c := &client{cmd: exec.CommandContext(ctx, name, args...)}
	c.cmd.Stderr = &c.stderr
	var err error
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.out = bufio.NewReader(out)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
	return c
}

// ask sends line and returns the line that comes back.
func (c *client) ask(t *testing.T, line string) string {
	t.Helper()
	if _, err := io.WriteString(c.in, line); err != nil {
		t.Fatal(err)
	}
	got, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("%s: reading the answer to %q: %v (got %q)\n%s", c.cmd.Path, line, err, got, c.stderr.String())
	}
	return got
}

var timeReply = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n$`)

// TestTLSOpenSSLClient echoes lines and answers commands to `openssl s_client`, which verifies the server's
// chain against the test CA, over TLS 1.3 and over TLS 1.2.
func TestTLSOpenSSLClient(t *testing.T) {
	d, f := tlsDaemon(t, "")
	for n, version := range []string{"-tls1_3", "-tls1_2"} {
		c := startClient(t, "openssl", "s_client", "-quiet", "-verify_return_error", "-CAfile", f.CAFile,
			"-servername", "localhost", version, "-connect", d.Addr("tls"))
		if got := c.ask(t, "hello over tls\n"); got != "hello over tls\n" {
			t.Fatalf("%s echo: %q", version, got)
		}
		if got := c.ask(t, "/time\n"); !timeReply.MatchString(got) {
			t.Fatalf("%s /time: %q", version, got)
		}
		waitTLS(t, d, "the handshakes", func(s listeners.ListenerStats) bool { return s.TLSHandshakes == uint64(n+1) })
	}
}

// TestTLSPythonClient checks the echo and /stats json through Python's ssl module.
func TestTLSPythonClient(t *testing.T) {
	d, f := tlsDaemon(t, "")
	out := runPython(t, d.Addr("tls"), f.CAFile, "", "", "ping\n/stats json tls\n", 2)
	lines := strings.SplitN(out, "\n", 2)
	if lines[0] != "ping" || !strings.Contains(lines[1], `"tls_handshakes":1`) {
		t.Fatalf("python got %q", out)
	}
}

// pythonClient connects with Python's ssl module (verifying against ca, with a client certificate when cert
// is set), sends send and prints the first n lines it gets back (n < 0: everything, then "<close_notify>"
// if the stream ended with one), or the error it meets.
const pythonClient = `
import socket, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
ctx = ssl.create_default_context(cafile=sys.argv[2])
if sys.argv[3]:
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
try:
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as s:
            s.sendall(sys.argv[5].encode())
            f = s.makefile("rb")
            if int(sys.argv[6]) < 0:  # to the end, which must be a close_notify: a bare FIN raises SSLEOFError
                sys.stdout.write(f.read().decode() + "<close_notify>")
            for _ in range(int(sys.argv[6])):
                sys.stdout.write(f.readline().decode())
except (ssl.SSLError, OSError) as e:
    print("ERROR", e)
`

func runPython(t *testing.T, addr, ca, cert, key, send string, lines int) string {
	t.Helper()
	needTool(t, "python3")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "python3", "-c", pythonClient, addr, ca, cert, key, send,
		strconv.Itoa(lines)).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	return string(out)
}

// TestTLSNcatHalfClose sends lines with `ncat --ssl`, whose end of input is a TLS close: every line is
// answered, the unterminated last one too, before echogate closes its side and ncat exits.
func TestTLSNcatHalfClose(t *testing.T) {
	needTool(t, "ncat")
	d, f := tlsDaemon(t, "")
	_, port, _ := strings.Cut(d.Addr("tls"), ":")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ncat", "--ssl", "--ssl-verify", "--ssl-trustfile", f.CAFile, "localhost", port)
	cmd.Stdin = strings.NewReader("one\ntwo\nlast")
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "one\ntwo\nlast" {
		t.Fatalf("ncat: %v, got %q", err, out)
	}
	waitTLS(t, d, "the connection closed", func(s listeners.ListenerStats) bool { return s.Open == 0 && s.Lines == 3 })
}

// TestTLSMutual serves a listener that requires a client certificate from its CA: a client with one is
// served, a client without one and a client whose certificate another CA signed are refused and counted.
func TestTLSMutual(t *testing.T) {
	dir := t.TempDir()
	f := echotest.NewTLSFiles(t, dir)
	d := tlsDaemonOf(t, f, "", clientAuthKeys(f, "require")...)
	cert, key := f.CA.Client(t, "probe-1").Write(t, dir, "client")
	if out := runPython(t, d.Addr("tls"), f.CAFile, cert, key, "with a certificate\n", 1); out != "with a certificate\n" {
		t.Fatalf("client with a certificate: %q", out)
	}
	if out := runPython(t, d.Addr("tls"), f.CAFile, "", "", "without\n", 1); !strings.HasPrefix(out, "ERROR") ||
		!strings.Contains(out, "CERTIFICATE_REQUIRED") {
		t.Fatalf("client without a certificate: %q", out)
	}
	c := startClient(t, "openssl", "s_client", "-quiet", "-CAfile", f.CAFile, "-servername", "localhost",
		"-cert", cert, "-key", key, "-connect", d.Addr("tls"))
	if got := c.ask(t, "openssl with a certificate\n"); got != "openssl with a certificate\n" {
		t.Fatalf("openssl with a certificate: %q", got)
	}
	expectOtherCARefused(t, d, f.CAFile)
	s := waitTLS(t, d, "two refused handshakes", func(s listeners.ListenerStats) bool { return s.TLSHandshakeErrors == 2 })
	if s.TLSHandshakes != 2 || s.Accepted != 2 {
		t.Errorf("handshakes %d, accepted %d; want 2 and 2", s.TLSHandshakes, s.Accepted)
	}
	if _, err := d.WaitLog("tls handshake failed", 5*time.Second); err != nil {
		t.Error(err)
	}
}

// TestTLSClientRejectsWrongCertificate checks that a client trusting another CA refuses the server, and that
// echogate counts the handshake its client broke off.
func TestTLSClientRejectsWrongCertificate(t *testing.T) {
	needTool(t, "openssl")
	d, _ := tlsDaemon(t, "")
	other := echotest.NewTLSFiles(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-verify_return_error", "-CAfile", other.CAFile,
		"-servername", "localhost", "-connect", d.Addr("tls"))
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "verify error") {
		t.Fatalf("openssl accepted a certificate of another CA: %v\n%s", err, out)
	}
	waitTLS(t, d, "the broken-off handshake", func(s listeners.ListenerStats) bool { return s.TLSHandshakeErrors == 1 })
	// OpenSSL's alert reaches crypto/tls, stock servers too, as "bad record MAC": the log only says it failed
	if _, err := d.WaitLog(`msg="tls handshake failed" listener=tls`, 5*time.Second); err != nil {
		t.Error(err)
	}
}

// TestTLSPlaintextClient sends a plain line to a TLS port: the client is told, the connection closes, and the
// failed handshake is counted.
func TestTLSPlaintextClient(t *testing.T) {
	d, _ := tlsDaemon(t, "")
	c := echotest.DialTCP(t, d.Addr("tls"))
	if _, err := io.WriteString(c, "hello\n"); err != nil {
		t.Fatal(err)
	}
	if got := echotest.ReadToEOF(t, c); got != "ERR tls-required\n" {
		t.Fatalf("plaintext client got %q", got)
	}
	waitTLS(t, d, "the failed handshake", func(s listeners.ListenerStats) bool { return s.TLSHandshakeErrors == 1 })
}

// TestTLSHandshakeTimeout connects and sends nothing: tls_handshake_timeout closes the connection and counts it.
func TestTLSHandshakeTimeout(t *testing.T) {
	d, _ := tlsDaemon(t, "", `tls_handshake_timeout = "300ms"`)
	c := echotest.DialTCP(t, d.Addr("tls"))
	start := time.Now()
	if got := echotest.ReadToEOF(t, c); got != "" {
		t.Fatalf("a silent client got %q", got)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("closed after %v, before tls_handshake_timeout", took)
	}
	waitTLS(t, d, "the timed-out handshake", func(s listeners.ListenerStats) bool { return s.TLSHandshakeErrors == 1 })
	if _, err := d.WaitLog("tls_handshake_timeout reached", 5*time.Second); err != nil {
		t.Error(err)
	}
}

// TestTLSCheckMismatchedKey runs `echogate check` on a listener whose key belongs to another certificate.
func TestTLSCheckMismatchedKey(t *testing.T) {
	dir := t.TempDir()
	f := echotest.NewTLSFiles(t, dir)
	_, otherKey := f.CA.Server(t, "other").Write(t, dir, "other")
	path := filepath.Join(dir, "echogate.toml")
	echotest.SaveAtomic(t, path, echotest.TCPListener("tls", "127.0.0.1:0",
		`tls_cert_file = "`+f.CertFile+`"`, `tls_key_file = "`+otherKey+`"`))
	_, stderr, code := echotest.RunCLI(t, "check", "-config", path)
	want := path + `:7:1: listener "tls": tls_key_file "` + otherKey + `": the private key does not match the certificate's public key`
	if code != 1 || !strings.Contains(stderr, want) {
		t.Fatalf("check: exit %d\n%s\nwant %s", code, stderr, want)
	}
}

// TestTLSRequestClientCert serves tls_client_auth = "request": a client without a certificate is served, one
// whose certificate the CA signed too, and one whose certificate another CA signed is refused.
func TestTLSRequestClientCert(t *testing.T) {
	dir := t.TempDir()
	f := echotest.NewTLSFiles(t, dir)
	d := tlsDaemonOf(t, f, "", clientAuthKeys(f, "request")...)
	if out := runPython(t, d.Addr("tls"), f.CAFile, "", "", "no certificate\n", 1); out != "no certificate\n" {
		t.Fatalf("client without a certificate: %q", out)
	}
	cert, key := f.CA.Client(t, "probe-2").Write(t, dir, "client")
	if out := runPython(t, d.Addr("tls"), f.CAFile, cert, key, "with one\n", 1); out != "with one\n" {
		t.Fatalf("client with a certificate: %q", out)
	}
	expectOtherCARefused(t, d, f.CAFile)
	waitTLS(t, d, "one refused handshake", func(s listeners.ListenerStats) bool {
		return s.TLSHandshakes == 2 && s.TLSHandshakeErrors == 1
	})
}

// TestTLSCredentials serves the certificate and key from systemd credentials ($CREDENTIALS_DIRECTORY), where
// the key's mode is systemd's business, and echoes through openssl.
func TestTLSCredentials(t *testing.T) {
	creds := t.TempDir()
	f := echotest.NewTLSFiles(t, creds)
	if err := os.Chmod(f.KeyFile, 0o440); err != nil { // as a credential may be: not a key file's 0600
		t.Fatal(err)
	}
	d := echotest.Start(t, echotest.TCPListener("tls", "127.0.0.1:0",
		`tls_cert_credential = "server.crt"`, `tls_key_credential = "server.key"`)+
		echotest.TCPListener("plain", "127.0.0.1:0"), echotest.Options{Env: []string{"CREDENTIALS_DIRECTORY=" + creds}})
	c := startClient(t, "openssl", "s_client", "-quiet", "-verify_return_error", "-CAfile", f.CAFile,
		"-servername", "localhost", "-connect", d.Addr("tls"))
	if got := c.ask(t, "from credentials\n"); got != "from credentials\n" {
		t.Fatalf("echo: %q", got)
	}
}
