package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestLoadTokens(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	creds := filepath.Join(dir, "creds")
	if err := os.Mkdir(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	write("creds/shutdown.token", "  s3cret\n", 0o444)
	write("creds/empty", "\n\t \n", 0o400)
	write("creds/long", strings.Repeat("x", MaxTokenLen+1), 0o400)
	write("creds/ctrl", "a\x01b", 0o400)
	write("creds/max", strings.Repeat("y", MaxTokenLen)+"\n", 0o400)
	ok600 := write("ok600", "file-token\n", 0o600)
	ok400 := write("ok400", "ro-token", 0o400)
	open644 := write("open644", "leaky-token", 0o644)
	group640 := write("group640", "leaky-token", 0o640)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(dir, "linked")
	if err := os.Symlink(ok600, linked); err != nil {
		t.Fatal(err)
	}
	foreign := write("foreign", "planted-token", 0o600)
	// Only root can give a file away; without root the file stays ours and is accepted.
	foreignTok, foreignErr := "planted-token", ""
	if os.Geteuid() == 0 {
		if err := os.Chown(foreign, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		foreignTok, foreignErr = "", `t.toml:5:1: listener "t": token_file "`+foreign+`": owned by `+describeUser(65534)+
			`, who could change it; want root or the user echogate runs as (`+describeUser(0)+`): chown it`
	}

	for _, tc := range []struct {
		name, key, value, credDir string
		want, err                 string
	}{
		{"credential", "token_credential", "shutdown.token", creds, "s3cret", ""},
		{"credential at the limit", "token_credential", "max", creds, strings.Repeat("y", MaxTokenLen), ""},
		{"no credentials directory", "token_credential", "shutdown.token", "",
			"", `t.toml:5:1: listener "t": token_credential "shutdown.token": $CREDENTIALS_DIRECTORY is not set (run under systemd with LoadCredential=, or use token_file)`},
		{"missing credential", "token_credential", "nope", creds,
			"", `t.toml:5:1: listener "t": token_credential "` + creds + `/nope": open: no such file or directory`},
		{"empty token", "token_credential", "empty", creds, "", `t.toml:5:1: listener "t": token_credential "` + creds + `/empty": token is empty`},
		{"long token", "token_credential", "long", creds, "", `t.toml:5:1: listener "t": token_credential "` + creds + `/long": token is longer than 4096 bytes`},
		{"control character", "token_credential", "ctrl", creds, "", `t.toml:5:1: listener "t": token_credential "` + creds + `/ctrl": token holds a control character (it could never be typed on one line)`},
		{"file 0600", "token_file", ok600, "", "file-token", ""},
		{"file 0400", "token_file", ok400, "", "ro-token", ""},
		{"file 0644 refused", "token_file", open644, "", "", `t.toml:5:1: listener "t": token_file "` + open644 + `": mode 0644 lets others read or write it; want 0600 or stricter (chmod 600)`},
		{"file 0640 refused", "token_file", group640, "", "", `t.toml:5:1: listener "t": token_file "` + group640 + `": mode 0640 lets others read or write it; want 0600 or stricter (chmod 600)`},
		{"directory refused", "token_file", creds, "", "", `t.toml:5:1: listener "t": token_file "` + creds + `": not a regular file: it is a directory`},
		{"fifo refused without blocking", "token_file", fifo, "", "", `t.toml:5:1: listener "t": token_file "` + fifo + `": not a regular file: it is a named pipe (FIFO)`},
		{"fifo credential refused", "token_credential", "fifo", dir, "", `t.toml:5:1: listener "t": token_credential "` + fifo + `": not a regular file: it is a named pipe (FIFO)`},
		{"device refused", "token_file", "/dev/null", "", "", `t.toml:5:1: listener "t": token_file "/dev/null": not a regular file: it is a character device`},
		{"symlink to a good file", "token_file", linked, "", "file-token", ""},
		{"owned by another user", "token_file", foreign, "", foreignTok, foreignErr},
		{"no token", "", "", creds, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tcp
			if tc.key != "" {
				src += tc.key + " = \"" + tc.value + "\"\n"
			}
			cfg, err := Decode("t.toml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			err = LoadTokens(cfg, tc.credDir)
			if got := errString(err); got != tc.err {
				t.Errorf("error:\n got %s\nwant %s", got, tc.err)
			}
			if err != nil {
				var ce *Error
				if !errors.As(err, &ce) {
					t.Errorf("got %T, want *Error", err)
				}
				for _, secret := range []string{"s3cret", "leaky", "planted", "xxxx", "a\x01b"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error shows the token: %v", err)
					}
				}
			}
			if got := cfg.Listeners[0].Token; got != tc.want {
				t.Errorf("token = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "echogate.toml")
	src := tcp + "token_credential = \"adm\"\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "adm"), []byte("tok\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != path || cfg.Listeners[0].Token != "tok" {
		t.Errorf("path %q token %q", cfg.Path, cfg.Listeners[0].Token)
	}
	again, _ := Decode("other", []byte(src))
	if cfg.Hash != again.Hash {
		t.Error("hash differs for the same bytes")
	}

	t.Setenv("CREDENTIALS_DIRECTORY", "")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path+":5:1:") {
		t.Errorf("without credentials: got %v", err)
	}
	missing := filepath.Join(dir, "missing.toml")
	if _, err := Load(missing); errString(err) != missing+": read config: open: no such file or directory" {
		t.Errorf("missing file: got %v", err)
	}
}

// TestExamples decodes every example shipped with echogate.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.toml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(file, data); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// credentialPath refuses what is not a plain file name, and a missing $CREDENTIALS_DIRECTORY, before any
// file is opened.
func TestCredentialPath(t *testing.T) {
	for _, tc := range []struct{ dir, name, want, err string }{
		{"/run/credentials/echogate.service", "shutdown.token", "/run/credentials/echogate.service/shutdown.token", ""},
		{"", "shutdown.token", "", "$CREDENTIALS_DIRECTORY is not set (run under systemd with LoadCredential=, or use token_file)"},
		{"/run/c", "../etc/shadow", "", `not a credential name (no '/', not "." or "..")`},
		{"/run/c", "..", "", `not a credential name (no '/', not "." or "..")`},
		{"/run/c", ".", "", `not a credential name (no '/', not "." or "..")`},
		{"/run/c", "", "", `not a credential name (no '/', not "." or "..")`},
		{"/run/c", "a\x00b", "", `not a credential name (no '/', not "." or "..")`},
	} {
		got, err := credentialPath(tc.dir, tc.name)
		if errString(err) != tc.err || (err == nil && got != tc.want) {
			t.Errorf("credentialPath(%q, %q) = %q, %v; want %q, %s", tc.dir, tc.name, got, err, tc.want, tc.err)
		}
	}
}
