// Package testcert makes throw-away ECDSA P-256 certificate authorities and certificates for tests, so that no
// key is ever committed. It depends only on the standard library, so every package's tests (and the
// benchmark harness) may use it.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TB is the part of testing.TB the package uses, so that a benchmark harness can make certificates too.
type TB interface {
	Helper()
	Fatal(args ...any)
}

// CA is a self-signed certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	PEM  []byte // the CA certificate
}

// Pair is a certificate the CA issued, with its key.
type Pair struct {
	Cert    *x509.Certificate
	CertPEM []byte // the certificate followed by the CA's: the chain a server sends
	KeyPEM  []byte
}

// NewCA makes a CA whose subject is CN=name.
func NewCA(t TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, Key: key, PEM: pemBlock("CERTIFICATE", der)}
}

// Server issues a certificate for localhost, 127.0.0.1 and ::1, usable by a TLS server.
func (ca *CA) Server(t TB, name string) *Pair {
	return ca.issue(t, name, x509.ExtKeyUsageServerAuth)
}

// Client issues a certificate usable by a TLS client, whose subject is CN=name.
func (ca *CA) Client(t TB, name string) *Pair {
	return ca.issue(t, name, x509.ExtKeyUsageClientAuth)
}

func (ca *CA) issue(t TB, name string, usage x509.ExtKeyUsage) *Pair {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"echogate tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	chain := append(pemBlock("CERTIFICATE", der), ca.PEM...)
	return &Pair{Cert: cert, CertPEM: chain, KeyPEM: pemBlock("PRIVATE KEY", kder)}
}

// Pool returns a pool holding only the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// WriteCA writes the CA certificate to dir/name and returns its path.
func (ca *CA) WriteCA(t TB, dir, name string) string {
	return write(t, filepath.Join(dir, name), ca.PEM, 0o644)
}

// Write writes the chain to dir/name.crt and the key to dir/name.key (mode 0600), and returns both paths.
func (p *Pair) Write(t TB, dir, name string) (cert, key string) {
	return write(t, filepath.Join(dir, name+".crt"), p.CertPEM, 0o644),
		write(t, filepath.Join(dir, name+".key"), p.KeyPEM, 0o600)
}

// TLS returns the pair as a tls.Certificate.
func (p *Pair) TLS(t TB) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// write replaces path with data through a rename, so a reader never sees half a file.
func write(t TB, path string, data []byte, mode os.FileMode) string {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func newKey(t TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
