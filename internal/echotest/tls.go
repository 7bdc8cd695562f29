package echotest

import (
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"echogate/internal/testcert"
)

// TLSFiles are a CA and a server certificate it issued, written as files for a TLS listener. Nothing is
// committed: every test makes its own.
type TLSFiles struct {
	Dir               string
	CA                *testcert.CA
	Server            *testcert.Pair
	CAFile            string // the CA certificate, for clients (and for tls_client_ca_file)
	CertFile, KeyFile string // the server's chain and key (mode 0600)
}

// NewTLSFiles makes a CA and a server certificate for localhost in dir.
func NewTLSFiles(t *testing.T, dir string) *TLSFiles {
	t.Helper()
	f := &TLSFiles{Dir: dir, CA: testcert.NewCA(t, "echogate test CA")}
	f.CAFile = f.CA.WriteCA(t, dir, "ca.pem")
	f.Renew(t)
	return f
}

// Renew issues a new server certificate (a new serial) and writes it over the old files.
func (f *TLSFiles) Renew(t *testing.T) {
	t.Helper()
	f.Server = f.CA.Server(t, "localhost")
	f.CertFile, f.KeyFile = f.Server.Write(t, f.Dir, "server")
}

// Keys are the listener lines that serve the files, followed by extra.
func (f *TLSFiles) Keys(extra ...string) []string {
	return append([]string{fmt.Sprintf("tls_cert_file = %q", f.CertFile), fmt.Sprintf("tls_key_file = %q", f.KeyFile)},
		extra...)
}

// ClientConfig trusts the CA, for server name localhost, with the client certificates given.
func (f *TLSFiles) ClientConfig(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: f.CA.Pool(), ServerName: "localhost", Certificates: certs}
}

// DialTLS connects to addr over TLS with cfg and does the handshake within 5 s. The connection has a 10 s
// deadline and is closed when the test ends.
func DialTLS(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := DialTLSErr(addr, cfg)
	return closeAtEnd(t, c, err)
}

// DialTLSErr is DialTLS returning the error; the caller closes the connection.
func DialTLSErr(addr string, cfg *tls.Config) (*tls.Conn, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second, Deadline: time.Now().Add(5 * time.Second)},
		"tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, nil
}

// Serial is the serial number of the certificate the server sent on c.
func Serial(c *tls.Conn) string {
	st := c.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return ""
	}
	return st.PeerCertificates[0].SerialNumber.String()
}
