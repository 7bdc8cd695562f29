package policy

import (
	"crypto/sha256"
	"crypto/subtle"
)

// TokenResult is the outcome of a /shutdown token check.
type TokenResult int

// The outcomes of CheckToken.
const (
	TokenOK       TokenResult = iota // the argument is the listener's token
	TokenRequired                    // the argument is empty
	TokenMissing                     // the listener has no token, so /shutdown cannot succeed
	TokenInvalid                     // the argument is not the token
)

// String returns a short name for r, for logs and counters.
func (r TokenResult) String() string {
	switch r {
	case TokenOK:
		return "ok"
	case TokenRequired:
		return "token-required"
	case TokenMissing:
		return "token-missing"
	case TokenInvalid:
		return "token-invalid"
	}
	return "unknown"
}

// CheckToken compares arg, the already trimmed /shutdown argument, with the listener's token.
// An empty argument is TokenRequired even on a listener without a token. The comparison is of
// SHA-256 digests in constant time, so its timing reveals neither the token nor its length.
func (p *Policy) CheckToken(arg []byte) TokenResult {
	if len(arg) == 0 {
		return TokenRequired
	}
	if !p.hasToken {
		return TokenMissing
	}
	d := digest(arg)
	if subtle.ConstantTimeCompare(d[:], p.token[:]) != 1 {
		return TokenInvalid
	}
	return TokenOK
}

// digest is the fixed-size form in which tokens are kept and compared.
func digest(b []byte) [32]byte {
	return sha256.Sum256(b)
}
