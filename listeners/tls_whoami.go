package listeners

import (
	"crypto/tls"
	"strings"
)

// kv is one field of a /whoami answer, in the order it is written.
type kv struct{ key, value string }

// tlsWhoamiFields are the fields /whoami adds on a TLS connection: the version ("1.2", "1.3"), the cipher
// suite, and, each only when known, the server name the client asked for (SNI), the application protocol
// agreed on (ALPN) and the subject of the client certificate that mTLS verified. st nil (a plain
// connection) adds nothing.
func tlsWhoamiFields(st *tls.ConnectionState) []kv {
	if st == nil || !st.HandshakeComplete {
		return nil
	}
	f := []kv{
		{"tls", strings.TrimPrefix(tls.VersionName(st.Version), "TLS ")},
		{"cipher", tls.CipherSuiteName(st.CipherSuite)},
	}
	if st.ServerName != "" {
		f = append(f, kv{"sni", st.ServerName})
	}
	if st.NegotiatedProtocol != "" {
		f = append(f, kv{"alpn", st.NegotiatedProtocol})
	}
	if len(st.VerifiedChains) > 0 && len(st.PeerCertificates) > 0 {
		f = append(f, kv{"client_subject", st.PeerCertificates[0].Subject.String()})
	}
	return f
}
