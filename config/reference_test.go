package config

import (
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// TestREADMEKeyReference checks that the ```toml block of the README's "## Configuration" section is the
// one the key tables give: every key, with its default (or its example when it has none) and its comment.
// A key added to schema.go without docs fails here; go test -run TestREADMEKeyReference -update rewrites
// the block.
func TestREADMEKeyReference(t *testing.T) {
	const readme = "../README.md"
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	section := strings.Index(text, "\n## Configuration\n")
	start := strings.Index(text[max(section, 0):], "```toml\n")
	if section < 0 || start < 0 {
		t.Fatal("README has no ```toml block in ## Configuration")
	}
	start += section + len("```toml\n")
	end := strings.Index(text[start:], "```\n")
	if end < 0 {
		t.Fatal("the README's ```toml block is not closed")
	}
	end += start
	want := keyReference()
	if *update {
		if err := os.WriteFile(readme, []byte(text[:start]+want+text[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := text[start:end]; got != want {
		t.Errorf("README's key reference differs from the key tables (go test ./config -run TestREADMEKeyReference -update)\n"+
			"got:\n%swant:\n%s", got, want)
	}
	var block map[string]any
	if _, err := toml.Decode(want, &block); err != nil {
		t.Fatalf("the block is not TOML: %v", err)
	}
	daemon, _ := block["daemon"].(map[string]any)
	listener, _ := block["listener"].([]map[string]any)
	checkReference(t, daemonKeys, daemon)
	checkReference(t, listenerKeys, listener[0])
}

// checkReference checks that every key has a doc, and that the value shown for a key with no example
// decodes to its default.
func checkReference[T any](t *testing.T, keys []key[T], table map[string]any) {
	t.Helper()
	for i := range keys {
		k := &keys[i]
		if k.doc == "" {
			t.Errorf("key %q has no doc", k.name)
		}
		if k.example != "" {
			continue
		}
		var def, shown T
		k.setDefault(&def)
		if msg := k.decode(&shown, table[k.name]); msg != "" || !reflect.DeepEqual(k.get(&shown), k.get(&def)) {
			t.Errorf("key %q: the README shows %v (%s), the default is %v", k.name, table[k.name], msg, k.get(&def))
		}
	}
}

// keyReference writes the README's block: [daemon], then one [[listener]] with the keys of both protocols.
func keyReference() string {
	var b strings.Builder
	b.WriteString(referenceLine("[daemon]", "optional"))
	for i := range daemonKeys {
		b.WriteString(referenceKey(&daemonKeys[i]))
	}
	b.WriteString("\n" + referenceLine("[[listener]]", "every key of both protocols; a listener takes those of its own"))
	for i := range listenerKeys {
		b.WriteString(referenceKey(&listenerKeys[i]))
	}
	return b.String()
}

func referenceKey[T any](k *key[T]) string {
	value := k.example
	if value == "" {
		var t T
		k.setDefault(&t)
		value = tomlLiteral(k.get(&t))
	}
	doc := k.doc
	if k.only != "" {
		doc = string(k.only) + ": " + doc
	}
	return referenceLine(k.name+" = "+value, doc)
}

// referenceLine aligns the comments of the block on one column, as far as the text allows.
func referenceLine(text, comment string) string {
	return text + strings.Repeat(" ", max(31-len(text), 3)) + "# " + comment + "\n"
}

// tomlLiteral writes a key's value as it is written in a config file.
func tomlLiteral(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case Mode:
		return strconv.Quote(string(v))
	case time.Duration:
		return strconv.Quote(shortDuration(v))
	case []netip.Prefix:
		return "[" + strings.Join(listOf(v, func(p netip.Prefix) string { return strconv.Quote(p.String()) }), ", ") + "]"
	case []uint16:
		return "[" + strings.Join(listOf(v, portString), ", ") + "]"
	case []string:
		return "[" + strings.Join(listOf(v, strconv.Quote), ", ") + "]"
	}
	return fmt.Sprint(v)
}
