package listeners

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"reflect"
	"testing"
)

func TestTLSWhoamiFields(t *testing.T) {
	client := &x509.Certificate{Subject: pkix.Name{CommonName: "probe-7", Organization: []string{"sre"}}}
	for _, tc := range []struct {
		name string
		st   *tls.ConnectionState
		want []kv
	}{
		{"plain connection", nil, nil},
		{"handshake not done", &tls.ConnectionState{Version: tls.VersionTLS13}, nil},
		{"TLS 1.3, nothing else known", &tls.ConnectionState{HandshakeComplete: true, Version: tls.VersionTLS13,
			CipherSuite: tls.TLS_AES_128_GCM_SHA256},
			[]kv{{"tls", "1.3"}, {"cipher", "TLS_AES_128_GCM_SHA256"}}},
		{"TLS 1.2 with SNI and ALPN", &tls.ConnectionState{HandshakeComplete: true, Version: tls.VersionTLS12,
			CipherSuite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ServerName: "echo.example", NegotiatedProtocol: "echo"},
			[]kv{{"tls", "1.2"}, {"cipher", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}, {"sni", "echo.example"}, {"alpn", "echo"}}},
		{"mTLS", &tls.ConnectionState{HandshakeComplete: true, Version: tls.VersionTLS13, CipherSuite: tls.TLS_CHACHA20_POLY1305_SHA256,
			PeerCertificates: []*x509.Certificate{client}, VerifiedChains: [][]*x509.Certificate{{client}}},
			[]kv{{"tls", "1.3"}, {"cipher", "TLS_CHACHA20_POLY1305_SHA256"}, {"client_subject", "CN=probe-7,O=sre"}}},
		{"a certificate nobody verified is not shown", &tls.ConnectionState{HandshakeComplete: true, Version: tls.VersionTLS13,
			CipherSuite: tls.TLS_AES_128_GCM_SHA256, PeerCertificates: []*x509.Certificate{client}},
			[]kv{{"tls", "1.3"}, {"cipher", "TLS_AES_128_GCM_SHA256"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tlsWhoamiFields(tc.st); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
