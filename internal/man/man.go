// Package man holds echogate's manual pages, echogate(8) and echogate.toml(5), written in Markdown and
// rendered to troff with go-md2man.
package man

import (
	"embed"
	"fmt"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"

	"echogate/config"
)

// Pages are the manual pages, by file name: echogate.8.md renders to echogate.8.
var Pages = []string{"echogate.8.md", "echogate.toml.5.md"}

//go:embed *.md
var sources embed.FS

// Render returns the page called name (one of Pages) as troff, with "@VERSION@" replaced by version.
func Render(name, version string) ([]byte, error) {
	md, err := sources.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("manual page %s: %w", name, err)
	}
	return md2man.Render([]byte(strings.ReplaceAll(string(md), "@VERSION@", version))), nil
}

// The markers around the key lists of echogate.toml.5.md, which KeyList writes.
const (
	keysBegin = "<!-- keys %s: written by go test ./internal/man -run TestKeyLists -update -->\n"
	keysEnd   = "<!-- end of keys %s -->\n"
)

// KeyList writes the Markdown definition list of the keys of one table ("daemon" or "listener") from the
// config's key tables: each key with its default (or an example), the protocol it applies to, the values
// it accepts and what it does.
func KeyList(table string) string {
	var b strings.Builder
	for _, k := range config.KeyDocs() {
		if k.Table != table {
			continue
		}
		head := "**" + k.Name + "** = " + escape(k.Value)
		if !k.Default {
			head = "**" + k.Name + "** (no default; e.g. " + escape(k.Value) + ")"
		}
		var notes []string
		if k.Protocol != "" {
			notes = append(notes, string(k.Protocol)+" only")
		}
		if k.Accepts != "" && !saidIn(k.Doc, k.Accepts) {
			notes = append(notes, escape(k.Accepts))
		}
		doc := escape(k.Doc)
		if len(notes) > 0 {
			doc = "(" + strings.Join(notes, "; ") + ") " + doc
		}
		b.WriteString(head + "\n:   " + doc + "\n\n")
	}
	return b.String()
}

// saidIn reports whether doc already names every value of accepts (`"a" | "b"`, ">= 1s").
func saidIn(doc, accepts string) bool {
	for _, v := range strings.Split(accepts, " | ") {
		if !strings.Contains(doc, strings.Trim(v, `"`)) {
			return false
		}
	}
	return true
}

// escape makes s plain Markdown text: the characters Markdown would read as markup are backslashed, but
// for backquotes, which stay code.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "<", `\<`, ">", `\>`, "[", `\[`, "]", `\]`,
		"|", `\|`).Replace(s)
}
