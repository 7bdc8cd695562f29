package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"echogate/internal/golden"
)

// keyReferenceBegin starts the README's key reference, in its "## Configuration" section.
const keyReferenceBegin = "<!-- key reference: written by go test ./config -run TestREADMEKeyReference -update -->\n```toml\n"

// TestREADMEKeyReference checks that the ```toml block of the README's "## Configuration" section is the
// one the key tables give: every key, with its default (or its example when it has none) and its comment.
// A key added to schema.go without docs fails here; go test -run TestREADMEKeyReference -update rewrites
// the block.
func TestREADMEKeyReference(t *testing.T) {
	want := keyReference()
	golden.Region(t, "../README.md", keyReferenceBegin, "```\n", want,
		"go test ./config -run TestREADMEKeyReference -update", *update)
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
