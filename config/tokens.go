package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadTokens sets each listener's Token from its token_credential (a file in credDir,
// normally $CREDENTIALS_DIRECTORY) or its token_file (which must be a regular file that
// only its owner can read or write, mode 0600 or stricter). The content is trimmed of
// white space; an empty token, one longer than MaxTokenLen bytes or one holding a
// control character is an error. A listener with neither key gets Token "".
// Errors are *Error placed on the token key and never quote the token.
func LoadTokens(cfg *Config, credDir string) error {
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		var (
			key, path string
			err       error
		)
		switch {
		case l.TokenCredential != "":
			key = "token_credential"
			path, err = credentialPath(credDir, l.TokenCredential)
			if err == nil {
				l.Token, err = readToken(path, false)
			}
		case l.TokenFile != "":
			key, path = "token_file", l.TokenFile
			l.Token, err = readToken(path, true)
		default:
			l.Token = ""
		}
		if err != nil {
			l.Token = ""
			return cfg.listenerErr(i, key, "%s %q: %v", key, path, err)
		}
	}
	return nil
}

// credentialPath is where systemd put credential name.
func credentialPath(credDir, name string) (string, error) {
	if !validCredentialName(name) {
		return name, errors.New("not a credential name (no '/', not \".\" or \"..\")")
	}
	if credDir == "" {
		return name, errors.New("$CREDENTIALS_DIRECTORY is not set (run under systemd with LoadCredential=, or use token_file)")
	}
	return filepath.Join(credDir, name), nil
}

// readToken reads and checks one token. private asks for the 0600 mode check.
func readToken(path string, private bool) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", unwrapPath(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", unwrapPath(err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	if perm := st.Mode().Perm(); private && perm&0o077 != 0 {
		return "", fmt.Errorf("mode %04o lets others read or write it; want 0600 or stricter (chmod 600)", perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4*MaxTokenLen+1))
	if err != nil {
		return "", unwrapPath(err)
	}
	tok := bytes.TrimSpace(data)
	switch {
	case len(data) > 4*MaxTokenLen || len(tok) > MaxTokenLen:
		return "", fmt.Errorf("token is longer than %d bytes", MaxTokenLen)
	case len(tok) == 0:
		return "", errors.New("token is empty")
	case bytes.ContainsFunc(tok, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", errors.New("token holds a control character (it could never be typed on one line)")
	}
	return string(tok), nil
}

// unwrapPath drops the path from an *fs.PathError: the caller names the file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
