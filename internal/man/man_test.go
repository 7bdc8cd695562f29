package man

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"echogate/config"
	"echogate/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the key lists of echogate.toml.5.md")

// TestKeyLists checks that the key lists of echogate.toml(5) are the ones the config's key tables give, so
// that a key added, removed or changed in config/schema.go fails here until the page is rewritten
// (go test ./internal/man -run TestKeyLists -update).
func TestKeyLists(t *testing.T) {
	const page = "echogate.toml.5.md"
	for _, table := range []string{"daemon", "listener"} {
		golden.Region(t, page, fmt.Sprintf(keysBegin, table), fmt.Sprintf(keysEnd, table), "\n"+KeyList(table),
			"go test ./internal/man -run TestKeyLists -update", *update)
	}
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, k := range config.KeyDocs() {
		if !strings.Contains(text, "**"+k.Name+"**") {
			t.Errorf("%s does not list the %s key %s", page, k.Table, k.Name)
		}
	}
}

// TestPagesRender renders every page to troff and has man(1) format it at 80 columns with every warning
// on: it must say nothing on stderr, and the text must carry the page's sections.
func TestPagesRender(t *testing.T) {
	manBin, err := exec.LookPath("man")
	if err != nil {
		t.Skip("man not installed (.ci/run installs man-db and groff-base)")
	}
	dir := t.TempDir()
	for _, name := range Pages {
		t.Run(name, func(t *testing.T) {
			troff, err := Render(name, "1.2.3")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, strings.TrimSuffix(name, ".md"))
			if err := os.WriteFile(path, troff, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(manBin, "--warnings", "-l", path)
			cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat", "LC_ALL=C.UTF-8")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("man --warnings -l %s: %v\n%s", path, err, stderr.String())
			}
			for _, want := range []string{"NAME", "DESCRIPTION", "SEE ALSO", "echogate 1.2.3"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("the rendered page has no %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestExampleInPage checks that the example of echogate.toml(5) is a valid config.
func TestExampleInPage(t *testing.T) {
	data, err := os.ReadFile("echogate.toml.5.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(data), "\n# EXAMPLES\n")
	var lines []string
	for _, line := range strings.Split(rest, "\n") {
		if strings.HasPrefix(line, "    ") {
			lines = append(lines, strings.TrimPrefix(line, "    "))
		} else if line != "" && len(lines) > 0 {
			break
		}
	}
	if _, err := config.Decode("echogate.toml(5)", []byte(strings.Join(lines, "\n"))); err != nil || len(lines) == 0 {
		t.Errorf("the example of echogate.toml(5) is not a valid config (%d lines): %v", len(lines), err)
	}
}
