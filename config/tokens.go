package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// LoadTokens sets each listener's Token from its token_credential (a file in credDir,
// normally $CREDENTIALS_DIRECTORY) or its token_file (which must be owned by root or by
// the user echogate runs as, and be mode 0600 or stricter). Either must be a regular file
// once symlinks are followed: a FIFO or a device is refused without blocking on it.
// The content is trimmed of
// white space; an empty token, one longer than MaxTokenLen bytes or one holding a
// control character is an error. A listener with neither key gets Token "". The STAMP HMAC key of a listener
// in mode "stamp" (StampKey, from stamp_key_credential or stamp_key_file) is read the same way, on every
// load, so that a reload picks up a changed key.
// Errors are *Error placed on the token key and never quote the token.
func LoadTokens(cfg *Config, credDir string) error {
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		var err error
		if l.Token, err = loadSecret(cfg, i, credDir, "token", l.TokenCredential, l.TokenFile); err != nil {
			return err
		}
		if l.StampKey, err = loadSecret(cfg, i, credDir, "stamp_key", l.StampKeyCredential, l.StampKeyFile); err != nil {
			return err
		}
	}
	return nil
}

// loadSecret reads the secret of listener i from credential cred (a file in credDir) or from file, whichever
// is set (validation allows one), under the keys <what>_credential and <what>_file; "" when neither is. Its
// error is an *Error on the key that names the file, and never quotes the secret.
func loadSecret(cfg *Config, i int, credDir, what, cred, file string) (string, error) {
	var (
		key, path, secret string
		err               error
	)
	switch {
	case cred != "":
		key = what + "_credential"
		if path, err = credentialPath(credDir, cred); err == nil {
			secret, err = readToken(path, false)
		}
	case file != "":
		key, path = what+"_file", file
		secret, err = readToken(path, true)
	}
	if err != nil {
		return "", cfg.listenerErr(i, key, "%s %q: %v", key, path, err)
	}
	return secret, nil
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

// readToken reads and checks one token. private asks for the checks of a token_file: like ssh with a key,
// it must be owned by root or by the user echogate runs as, and mode 0600 or stricter, since whoever can
// write it can stop the daemon and whoever can read it can too.
func readToken(path string, private bool) (string, error) {
	data, err := readSmallFile(path, private, 4*MaxTokenLen)
	if err != nil {
		return "", err
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

// readSmallFile reads a secret or a certificate: path must be a regular file and, when private, pass
// checkPrivate. It reads at most limit+1 bytes, so that a result longer than limit says the file is over it.
func readSmallFile(path string, private bool, limit int) ([]byte, error) {
	f, st, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if private {
		if err := checkPrivate(st); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, unwrapPath(err)
	}
	return data, nil
}

// checkPrivate refuses a token file that another user owns or that others may read or write.
func checkPrivate(st fs.FileInfo) error {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		if euid := os.Geteuid(); int(sys.Uid) != 0 && int(sys.Uid) != euid {
			return fmt.Errorf("owned by %s, who could change it; want root or the user echogate runs as (%s): chown it",
				describeUser(int(sys.Uid)), describeUser(euid))
		}
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("mode %04o lets others read or write it; want 0600 or stricter (chmod 600)", perm)
	}
	return nil
}

// describeUser names a uid as "uid 65534 (nobody)", or "uid 65534" when it has no name.
func describeUser(uid int) string {
	id := strconv.Itoa(uid)
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		return "uid " + id + " (" + u.Username + ")"
	}
	return "uid " + id
}

// unwrapPath drops the path from an *fs.PathError: the caller names the file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
