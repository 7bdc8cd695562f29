package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"echogate/internal/echotest"
)

// completionScript writes `echogate completion SHELL` to a file and returns its path.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	stdout, stderr, code := echotest.RunCLI(t, "completion", shell)
	if code != 0 {
		t.Fatalf("echogate completion %s: exit %d\n%s", shell, code, stderr)
	}
	path := filepath.Join(t.TempDir(), "echogate."+shell)
	if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// parsedScript writes the completion script of shell and checks that shell parses it without running it
// (its flag noExec: -n, --no-execute). It returns the shell's path and the script's; it skips the test where
// the shell is not installed.
func parsedScript(t *testing.T, shell, noExec string) (bin, script string) {
	t.Helper()
	bin, err := exec.LookPath(shell)
	if err != nil {
		t.Skip(shell + " not installed")
	}
	script = completionScript(t, shell)
	if out, err := exec.Command(bin, noExec, script).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", shell, noExec, err, out)
	}
	return bin, script
}

// TestCompletionBash loads the bash script (bash -n, complete -p) and asks it for completions as bash
// would: commands, flags, -config's TOML files, -log-format's values.
func TestCompletionBash(t *testing.T) {
	t.Parallel()
	bash, script := parsedScript(t, "bash", "-n")
	dir := t.TempDir()
	for _, f := range []string{"a.toml", "b.toml", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ line, want string }{
		{"echogate", "complete -F _echogate echogate"}, // complete -p
		{"echogate ch", "check"},
		{"echogate co", "completion config"},
		{"echogate run -log-format j", "journal json"},
		{"echogate run --log-level w", "warn"},
		{"echogate check -config ", "a.toml b.toml"},
		{"echogate status -", "-config -control -h -json -timeout"},
		{"echogate completion ", "-h bash fish zsh"},
		{"echogate help re", "reload"},
	} {
		words := strings.Fields(tc.line)
		if strings.HasSuffix(tc.line, " ") {
			words = append(words, "")
		}
		probe := `complete -p echogate`
		if len(words) > 1 {
			probe = "COMP_WORDS=(" + shellWords(words) + "); COMP_CWORD=" + strconv.Itoa(len(words)-1) +
				`; _echogate; printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '`
		}
		cmd := exec.Command(bash, "-c", "source "+script+" && "+probe)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != tc.want {
			t.Errorf("%q: got %q (%v), want %q", tc.line, got, err, tc.want)
		}
	}
}

// TestCompletionZshFish checks that the zsh and fish scripts parse, and asks fish for completions.
func TestCompletionZshFish(t *testing.T) {
	t.Parallel()
	if zsh, err := exec.LookPath("zsh"); err != nil {
		t.Log("zsh not installed: its script is not checked")
	} else if out, err := exec.Command(zsh, "-n", completionScript(t, "zsh")).CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, out)
	}
	fish, script := parsedScript(t, "fish", "--no-execute")
	for _, tc := range []struct{ line, want string }{
		{"echogate stat", "state status"},
		{"echogate run -log-format j", "journal json"},
		{"echogate check -b", "-bind"},
	} {
		out, err := exec.Command(fish, "-c", "source "+script+"; complete -C '"+tc.line+"' | cut -f1 | sort | tr '\\n' ' '").CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != tc.want {
			t.Errorf("fish %q: got %q (%v), want %q", tc.line, got, err, tc.want)
		}
	}
}

// shellWords quotes words for a bash array.
func shellWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + w + "'"
	}
	return strings.Join(q, " ")
}
