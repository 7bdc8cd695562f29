package policy

import (
	"crypto/tls"

	"echogate/config"
)

// tlsVersions maps tls_min_version to crypto/tls' constants.
var tlsVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// tlsClientAuth maps tls_client_auth to crypto/tls' policy: "request" verifies a certificate the client
// chooses to send, and admits a client that sends none.
var tlsClientAuth = map[string]tls.ClientAuthType{
	config.TLSAuthNone:    tls.NoClientCert,
	config.TLSAuthRequest: tls.VerifyClientCertIfGiven,
	config.TLSAuthRequire: tls.RequireAndVerifyClientCert,
}

// serverTLS builds the TLS server config of l from the material its config loaded, or returns nil for a
// plain listener. The cipher suites and curves are crypto/tls' defaults: AEAD suites with forward secrecy
// only for TLS 1.2, every TLS 1.3 suite.
func serverTLS(l *config.Listener) *tls.Config {
	if l.TLS == nil {
		return nil
	}
	c := &tls.Config{
		Certificates: []tls.Certificate{l.TLS.Certificate},
		MinVersion:   tlsVersions[l.TLSMinVersion],
		ClientAuth:   tlsClientAuth[l.TLSClientAuth],
		ClientCAs:    l.TLS.ClientCAs,
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}
