package config

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// The values of tls_client_auth.
const (
	TLSAuthNone    = "none"    // no client certificate is asked for
	TLSAuthRequest = "request" // asked for, and verified when the client sends one
	TLSAuthRequire = "require" // a client without a certificate the CAs signed is refused
)

// maxPEMSize bounds a certificate, key or CA file: a chain of a few certificates is a few KiB.
const maxPEMSize = 1 << 20

// TLSMaterial is what a TLS listener's files held when its config was loaded. It is read again on every
// reload, so a renewed certificate is served from the next reload on.
type TLSMaterial struct {
	Certificate tls.Certificate // the chain with its private key, checked to match
	ClientCAs   *x509.CertPool  // nil without tls_client_ca_file or tls_client_ca_credential
	// Digest is the SHA-256 of every file's bytes: a reload that reads other bytes updates the listener,
	// as a changed token does, though no key of the file changed.
	Digest [32]byte
}

// TLSEnabled reports whether l serves TLS: it names a certificate.
func (l *Listener) TLSEnabled() bool { return l.TLSCertFile != "" || l.TLSCertCredential != "" }

// tlsSource is one PEM input of a TLS listener: the file key and the credential key that may name it.
type tlsSource struct {
	file, cred string
	private    bool // a key: a file must be owned and moded as a token_file
}

var (
	tlsCert = tlsSource{file: "tls_cert_file", cred: "tls_cert_credential"}
	tlsKey  = tlsSource{file: "tls_key_file", cred: "tls_key_credential", private: true}
	tlsCA   = tlsSource{file: "tls_client_ca_file", cred: "tls_client_ca_credential"}
)

// tlsSources checks how TCP listener i names its TLS files: each of the certificate, the key and the client
// CAs from a file or a credential, not both; a certificate and a key together; a client CA exactly when
// tls_client_auth asks for client certificates; and the other tls_ keys only on a TLS listener.
func (v *validator) tlsSources(i int) {
	l := &v.c.Listeners[i]
	set := func(key string) bool {
		k, _ := listenerKeySpec(key)
		return v.c.isSetKey(i, key) && !isDefault(k, l)
	}
	for _, s := range []tlsSource{tlsCert, tlsKey, tlsCA} {
		if set(s.file) && set(s.cred) {
			v.add(i, s.cred, "%s and %s are mutually exclusive; use one", s.file, s.cred)
		}
	}
	cert, key, ca := set(tlsCert.file) || set(tlsCert.cred), set(tlsKey.file) || set(tlsKey.cred),
		set(tlsCA.file) || set(tlsCA.cred)
	switch {
	case cert && !key:
		v.add(i, tlsCert.keyOf(set), "%s needs tls_key_file or tls_key_credential", tlsCert.keyOf(set))
	case key && !cert:
		v.add(i, tlsKey.keyOf(set), "%s needs tls_cert_file or tls_cert_credential", tlsKey.keyOf(set))
	case !cert:
		for _, k := range []string{"tls_client_ca_file", "tls_client_ca_credential", "tls_client_auth",
			"tls_min_version", "tls_handshake_timeout"} {
			if set(k) {
				v.add(i, k, "%s applies only to a TLS listener (one with tls_cert_file or tls_cert_credential)", k)
			}
		}
		return
	}
	if l.ProxyProtocol != "" && l.ProxyProtocol != ProxyOff {
		// The PROXY header comes before the TLS handshake, which runs off the loop; the two are not joined yet.
		v.add(i, "proxy_protocol", `proxy_protocol must be "off" on a TLS listener (PROXY before TLS is not supported yet)`)
	}
	if v.failedKey(i, "tls_client_auth") {
		return
	}
	switch asks := l.TLSClientAuth == TLSAuthRequest || l.TLSClientAuth == TLSAuthRequire; {
	case asks && !ca:
		v.add(i, "tls_client_auth", "tls_client_auth %q needs tls_client_ca_file or tls_client_ca_credential, "+
			"the CAs that sign client certificates", l.TLSClientAuth)
	case !asks && ca:
		v.add(i, tlsCA.keyOf(set), "%s is set but tls_client_auth is %q: set it to \"request\" or \"require\"",
			tlsCA.keyOf(set), l.TLSClientAuth)
	}
}

// keyOf returns the key of s that is written (the file key when neither is).
func (s tlsSource) keyOf(set func(string) bool) string {
	if !set(s.file) && set(s.cred) {
		return s.cred
	}
	return s.file
}

// path returns the key of s that l names and the file it means (a credential in credDir).
func (s tlsSource) path(l *Listener, credDir string) (key, path string, err error) {
	file, cred := s.values(l)
	if cred == "" {
		return s.file, file, nil
	}
	path, err = credentialPath(credDir, cred)
	return s.cred, path, err
}

// values returns what l writes for the file key and the credential key of s.
func (s tlsSource) values(l *Listener) (file, cred string) {
	switch s {
	case tlsCert:
		return l.TLSCertFile, l.TLSCertCredential
	case tlsKey:
		return l.TLSKeyFile, l.TLSKeyCredential
	}
	return l.TLSClientCAFile, l.TLSClientCACredential
}

// LoadTLS reads the certificate, the key and the client CAs of every TLS listener into its TLS field,
// as LoadTokens reads tokens: regular files only, a key file owned by root or echogate's user and mode
// 0600 or stricter (a key credential is systemd's to protect). A certificate that does not parse, a key
// that does not match it, or a CA file with no certificate is an *Error placed on the key that names the
// file; no error quotes a key's content.
func LoadTLS(cfg *Config, credDir string) error {
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		l.TLS = nil
		if l.Protocol != TCP || !l.TLSEnabled() {
			continue
		}
		m, key, err := loadTLS(l, credDir)
		if err != nil {
			return cfg.listenerErr(i, key, "%v", err)
		}
		l.TLS = m
	}
	return nil
}

// loadTLS reads l's files. On an error it returns the key to place it on.
func loadTLS(l *Listener, credDir string) (*TLSMaterial, string, error) {
	digest := sha256.New()
	var pems [3][]byte
	for n, s := range []tlsSource{tlsCert, tlsKey, tlsCA} {
		key, path, err := s.path(l, credDir)
		if path == "" && err == nil {
			continue // no client CA
		}
		if err == nil {
			pems[n], err = readPEM(path, s.private && key == s.file)
		}
		if err != nil {
			return nil, key, fmt.Errorf("%s %q: %v", key, path, err)
		}
		fmt.Fprintf(digest, "%s %d\n", key, len(pems[n]))
		digest.Write(pems[n])
	}
	certKey, certPath, _ := tlsCert.path(l, credDir)
	keyKey, keyPath, _ := tlsKey.path(l, credDir)
	if err := checkChain(pems[0]); err != nil {
		return nil, certKey, fmt.Errorf("%s %q: %v", certKey, certPath, err)
	}
	pair, err := tls.X509KeyPair(pems[0], pems[1])
	if err != nil {
		return nil, keyKey, fmt.Errorf("%s %q: %v", keyKey, keyPath, keyError(err))
	}
	m := &TLSMaterial{Certificate: pair}
	if pems[2] != nil {
		m.ClientCAs = x509.NewCertPool()
		if !m.ClientCAs.AppendCertsFromPEM(pems[2]) {
			caKey, path, _ := tlsCA.path(l, credDir)
			return nil, caKey, fmt.Errorf("%s %q: no PEM certificate in it", caKey, path)
		}
	}
	copy(m.Digest[:], digest.Sum(nil))
	return m, "", nil
}

// readPEM reads a certificate or key file. private asks for the checks of a token_file.
func readPEM(path string, private bool) ([]byte, error) {
	data, err := readSmallFile(path, private, maxPEMSize)
	if err != nil {
		return nil, err
	}
	if len(data) > maxPEMSize {
		return nil, fmt.Errorf("over %d bytes: not a PEM file", maxPEMSize)
	}
	return data, nil
}

// checkChain says what is wrong with a certificate chain in PEM, so that the error is placed on the
// certificate's key and not on the key's.
func checkChain(data []byte) error {
	n := 0
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("certificate %d of the chain: %v", n+1, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("no PEM certificate in it")
	}
	return nil
}

// keyError rewords crypto/tls' key errors for an operator.
func keyError(err error) error {
	if msg := err.Error(); msg == "tls: private key does not match public key" {
		return errors.New("the private key does not match the certificate's public key")
	}
	return err
}
