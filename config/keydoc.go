package config

import (
	"strconv"
	"strings"
)

// KeyDoc describes one key of the file, as the manual lists it. It is read from the key tables of
// schema.go, so that the manual and the decoder cannot disagree.
type KeyDoc struct {
	Table    string   // "daemon" or "listener"
	Name     string   // the key
	Protocol Protocol // the one protocol a listener key applies to; "" = every listener
	Value    string   // the default as written in a file, or the example for a key without one
	Default  bool     // Value is the default (not an example)
	Accepts  string   // the values accepted: the enum, the range, the shortest duration; "" = any of its type
	Doc      string   // what the key does
}

// KeyDocs returns every key: the [daemon] keys, then the [[listener]] keys, in the order of the key tables.
func KeyDocs() []KeyDoc {
	var out []KeyDoc
	for i := range daemonKeys {
		out = append(out, keyDoc("daemon", &daemonKeys[i]))
	}
	for i := range listenerKeys {
		out = append(out, keyDoc("listener", &listenerKeys[i]))
	}
	return out
}

func keyDoc[T any](table string, k *key[T]) KeyDoc {
	d := KeyDoc{Table: table, Name: k.name, Protocol: k.only, Value: k.example, Doc: k.doc}
	if d.Value == "" {
		var t T
		k.setDefault(&t)
		d.Value, d.Default = tomlLiteral(k.get(&t)), true
	}
	switch {
	case k.enum != nil:
		d.Accepts = `"` + strings.Join(k.enum, `" | "`) + `"`
	case k.hi > 0:
		d.Accepts = strconv.Itoa(k.lo) + ".." + strconv.Itoa(k.hi)
	case k.least > 0 && k.off:
		d.Accepts = `"0s" or >= ` + shortDuration(k.least)
	case k.least > 0:
		d.Accepts = ">= " + shortDuration(k.least)
	}
	return d
}
