package systemd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoCredentials means $CREDENTIALS_DIRECTORY is not set: the unit has no LoadCredential= line, or
// echogate does not run under systemd.
var ErrNoCredentials = errors.New("CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)")

// CredentialPath returns $CREDENTIALS_DIRECTORY/name, the file systemd's LoadCredential=name:... fills.
// It fails when the variable is unset or name is not a plain file name.
func CredentialPath(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("credential %q: not a plain file name", name)
	}
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" {
		return "", fmt.Errorf("credential %q: %w", name, ErrNoCredentials)
	}
	return filepath.Join(dir, name), nil
}
