package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"echogate/internal/echotest"
)

func TestCheckExample(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := echotest.RunCLI(t, "check", "-config", "../../examples/echogate.toml")
	if code != 0 {
		t.Fatalf("check examples/echogate.toml: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "ok") {
		t.Errorf("check printed %q, want it to say ok", stdout)
	}
}

// TestCheckBindsNothing checks a config whose address is already in use: check must not try to bind it.
func TestCheckBindsNothing(t *testing.T) {
	t.Parallel()
	path := echotest.WriteConfig(t, echotest.TCPListener("a", echotest.HoldTCP(t, "127.0.0.1:0")))
	if _, stderr, code := echotest.RunCLI(t, "check", "-config", path); code != 0 {
		t.Fatalf("check on an address in use: exit %d, want 0\n%s", code, stderr)
	}
}

// pListenerHead is a valid listener table; the bad-file cases add keys after it, from line 5 on.
const pListenerHead = `[[listener]]
name = "diag"
protocol = "tcp"
address = "127.0.0.1:0"
`

// pBadConfigs are files that check and run must refuse, with the line the error must name and a pattern for
// the message that follows "file:line:col: ".
func pBadConfigs(dir string) []struct{ name, body, line, msg string } {
	loose := filepath.Join(dir, "loose.token")
	os.WriteFile(loose, []byte("token\n"), 0o644)
	os.Chmod(loose, 0o644)
	return []struct{ name, body, line, msg string }{
		{"max_line zero", pListenerHead + "max_line = 0\n", "5", `listener "diag": max_line must be between 1 and 1048576`},
		{"max_line too big", pListenerHead + "max_line = 2000000\n", "5", `max_line must be between 1 and 1048576`},
		{"unknown key", pListenerHead + "max_conn = 10\n", "5", `unknown key "max_conn"`},
		{"unknown key, wrong case", pListenerHead + "Max_Line = 10\n", "5", `unknown key "Max_Line"`},
		{"duplicate name", pListenerHead + pListenerHead[:len(pListenerHead)-len("address = \"127.0.0.1:0\"\n")] +
			"address = \"127.0.0.1:1\"\n", "6", `name "diag" is already used`},
		{"bad CIDR", pListenerHead + "allow = [\"10.0.0.0/33\"]\n", "5", `bad CIDR "10.0.0.0/33"`},
		{"not a CIDR", pListenerHead + "allow = [\"example.com\"]\n", "5", `bad CIDR "example.com"`},
		{"CIDR with host bits", pListenerHead + "admin_allow = [\"127.0.0.1/8\"]\n", "5", `host bits set`},
		{"duration without unit", pListenerHead + "idle_timeout = \"5\"\n", "5", `missing unit in duration "5"`},
		{"duration as integer", pListenerHead + "idle_timeout = 5\n", "5", `idle_timeout`},
		{"token_file mode 0644", pListenerHead + "token_file = \"" + loose + "\"\n", "5", `mode 0644`},
		{"token_file missing", pListenerHead + "token_file = \"" + filepath.Join(dir, "nope") + "\"\n", "5", `token_file`},
		{"credential without directory", pListenerHead + "token_credential = \"shutdown.token\"\n", "5", `CREDENTIALS_DIRECTORY`},
		{"bad protocol", "[[listener]]\nname = \"diag\"\nprotocol = \"sctp\"\n", "3", `unknown protocol "sctp"`},
	}
}

// pPositioned matches "file:line:col: message" for the given file and line.
func pPositioned(path, line, msg string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^(echogate: )?` + regexp.QuoteMeta(path) + `:` + line + `:\d+: .*` + msg)
}

func TestCheckBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range pBadConfigs(dir) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "echogate.toml")
			os.WriteFile(path, []byte(tc.body), 0o644)
			_, stderr, code := echotest.RunCLI(t, "check", "-config", path)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, stderr)
			}
			if re := pPositioned(path, tc.line, tc.msg); !re.MatchString(stderr) {
				t.Fatalf("stderr %q does not match %s", stderr, re)
			}
		})
	}
}

// TestRunBadFile checks that run refuses a bad file with the same message and never starts serving.
func TestRunBadFile(t *testing.T) {
	t.Parallel()
	for _, tc := range pBadConfigs(t.TempDir())[:3] {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "echogate.toml")
			os.WriteFile(path, []byte(tc.body), 0o644)
			_, stderr, code := echotest.RunCLI(t, "run", "-log-format", "text", "-config", path)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, stderr)
			}
			if re := pPositioned(path, tc.line, tc.msg); !re.MatchString(stderr) {
				t.Fatalf("stderr %q does not match %s", stderr, re)
			}
			if strings.Contains(stderr, "serving") || strings.Contains(stderr, "ready") {
				t.Fatalf("run served a bad file:\n%s", stderr)
			}
		})
	}
}
