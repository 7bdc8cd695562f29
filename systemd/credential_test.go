package systemd

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestCredentialPath(t *testing.T) {
	for _, tc := range []struct {
		name, dir, cred, want, err string
	}{
		{name: "plain", dir: "/run/credentials/echogate.service", cred: "shutdown.token",
			want: "/run/credentials/echogate.service/shutdown.token"},
		{name: "unset", cred: "shutdown.token", err: "CREDENTIALS_DIRECTORY is not set"},
		{name: "slash", dir: "/run/c", cred: "../etc/shadow", err: "not a plain file name"},
		{name: "dotdot", dir: "/run/c", cred: "..", err: "not a plain file name"},
		{name: "empty", dir: "/run/c", cred: "", err: "not a plain file name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CREDENTIALS_DIRECTORY", tc.dir)
			if tc.dir == "" {
				os.Unsetenv("CREDENTIALS_DIRECTORY")
			}
			got, err := CredentialPath(tc.cred)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("CredentialPath(%q) = %q, %v; want error %q", tc.cred, got, err, tc.err)
				}
				if tc.dir == "" && !errors.Is(err, ErrNoCredentials) {
					t.Errorf("error %v is not ErrNoCredentials", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("CredentialPath(%q) = %q, %v; want %q", tc.cred, got, err, tc.want)
			}
		})
	}
}
