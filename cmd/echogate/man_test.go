package main

import (
	"os"
	"strings"
	"testing"
)

// TestManPageCommands checks that echogate(8) describes every command and every flag of the command table,
// so that a command or flag added to the binary fails here until the page names it.
func TestManPageCommands(t *testing.T) {
	const page = "../../internal/man/echogate.8.md"
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	_, text, _ := strings.Cut(string(data), "\n# COMMANDS\n")
	text, _, _ = strings.Cut("\n"+text, "\n# SIGNALS\n")
	for _, c := range commands() {
		_, entry, ok := strings.Cut(text, "\n**"+c.name+"**")
		if !ok {
			t.Errorf("%s: COMMANDS has no entry for %s", page, c.name)
			continue
		}
		if i := strings.Index(entry, "\n\n**"); i >= 0 {
			entry = entry[:i]
		}
		for _, f := range flagsOf(c) {
			if !strings.Contains(entry, "**-"+f.Name+"**") {
				t.Errorf("%s: the entry of %s does not name -%s", page, c.name, f.Name)
			}
		}
	}
}
