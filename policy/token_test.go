package policy

import (
	"bytes"
	"testing"

	"echogate/config"
)

func TestCheckToken(t *testing.T) {
	const token = "s3cret-Token"
	big := bytes.Repeat([]byte("A"), 1<<20)
	for _, tc := range []struct {
		name  string
		token string
		arg   []byte
		want  TokenResult
	}{
		{"right", token, []byte(token), TokenOK},
		{"empty argument", token, nil, TokenRequired},
		{"empty argument without token", "", []byte{}, TokenRequired},
		{"listener without token", "", []byte("anything"), TokenMissing},
		{"wrong", token, []byte("s3cret-Tokem"), TokenInvalid},
		{"prefix of token", token, []byte("s3cret"), TokenInvalid},
		{"one byte short", token, []byte(token[:len(token)-1]), TokenInvalid},
		{"token plus suffix", token, []byte(token + "x"), TokenInvalid},
		{"other case", token, []byte("S3CRET-TOKEN"), TokenInvalid},
		{"token with newline", token, []byte(token + "\n"), TokenInvalid},
		{"one MiB argument", token, big, TokenInvalid},
		{"one MiB argument without token", "", big, TokenMissing},
		{"one MiB token", string(big), big, TokenOK},
		{"one MiB token, last byte differs", string(big), append(bytes.Clone(big[:len(big)-1]), 'B'), TokenInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(&config.Listener{Token: tc.token})
			if got := p.CheckToken(tc.arg); got != tc.want {
				t.Errorf("CheckToken = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTokenNotKept(t *testing.T) {
	p := New(&config.Listener{Token: "visible-secret"})
	if bytes.Contains(p.token[:], []byte("visible")) || p.token != digest([]byte("visible-secret")) {
		t.Error("the policy does not keep the token as its digest only")
	}
}

func TestResultStrings(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{TokenOK.String(), "ok"},
		{TokenRequired.String(), "token-required"},
		{TokenMissing.String(), "token-missing"},
		{TokenInvalid.String(), "token-invalid"},
		{TokenResult(99).String(), "unknown"},
		{Pass.String(), "pass"},
		{DropCIDR.String(), "drop-cidr"},
		{DropSourcePort.String(), "drop-source-port"},
		{DropBroadcast.String(), "drop-broadcast"},
		{Verdict(-1).String(), "unknown"},
	} {
		if tc.got != tc.want {
			t.Errorf("String() = %q, want %q", tc.got, tc.want)
		}
	}
}
