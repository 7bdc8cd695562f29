package config

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// rawFile is the top level of the file. Tables are kept as toml.Primitive and decoded one
// by one so that an error can be tied to the [[listener]] it came from.
type rawFile struct {
	Daemon   toml.Primitive   `toml:"daemon"`
	Listener []toml.Primitive `toml:"listener"`
}

// source remembers the text a Config was decoded from, to place errors found later.
type source struct {
	file string
	ix   *keyIndex
	set  []map[string]bool // per listener: the keys written in its table
	dset map[string]bool   // the keys written in [daemon]
}

// decoder holds the state of one Decode call.
type decoder struct {
	src    *source
	md     toml.MetaData
	tables []toml.Primitive // the [[listener]] tables
	names  map[int]string   // listener names decoded so far, for error labels
	errs   errorList
	// nested holds the keys written as tables ("allow.x = 1") that checkKeys already reported, per
	// listener index (-1 for [daemon]): their values are not decoded, which would only report them again.
	nested map[tableKey]bool
}

// tableKey is a key of the [daemon] table (index -1) or of the index-th [[listener]].
type tableKey struct {
	index int
	key   string
}

// Decode parses and validates a TOML configuration. file names the text in errors.
// Keys are strict: an unknown key, or a known key written in another case, is an error.
// Left-out keys get their defaults; keys that do not apply to a listener's protocol are
// errors, and the fields of the other protocol stay zero. The error is Errors, holding
// every problem found (a TOML syntax error stops decoding, so it comes alone).
// Decode does not read tokens: see LoadTokens and Load.
func Decode(file string, data []byte) (*Config, error) {
	text := string(data)
	d := &decoder{src: &source{file: file, ix: scanKeys(text), dset: map[string]bool{}}, errs: errorList{file: file},
		nested: map[tableKey]bool{}}
	var raw rawFile
	md, err := toml.Decode(text, &raw)
	if err != nil && len(md.Keys()) == 0 {
		return nil, Errors{syntaxError(file, text, err)}
	}
	d.md = md
	d.tables, d.names = raw.Listener, map[int]string{}
	if !d.checkKeys() || err != nil { // a table of the wrong shape: nothing more can be decoded
		if d.errs.empty() {
			d.errs.add(syntaxError(file, text, err))
		}
		return nil, d.errs.err()
	}
	cfg := &Config{Path: file, Hash: sha256.Sum256(data), src: d.src}
	v := &validator{c: cfg, errs: &d.errs, failed: make([]map[string]bool, len(raw.Listener))}
	cfg.Daemon, v.daemonFailed = d.daemon(raw.Daemon)
	cfg.Listeners = make([]Listener, len(raw.Listener))
	for i, p := range raw.Listener {
		cfg.Listeners[i], v.failed[i] = d.listener(i, p)
	}
	// No key is left undecoded: checkKeys has seen every key, and the known ones are the fields of
	// rawDaemon and rawListener (TestKeyTablesMatchRawStructs).
	v.all()
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkKeys reports unknown keys and keys in the wrong case, and records which keys each table sets. It
// returns false when a table has the wrong shape, which stops decoding.
func (d *decoder) checkKeys() bool {
	li := -1
	listenerKeys, daemonKeys := keySet(listenerKeyNames()), keySet(daemonKeyNames())
	for _, k := range d.md.Keys() {
		switch {
		case len(k) == 1 && k[0] == "daemon":
			if t := d.md.Type(k...); t != "Hash" {
				d.errs.add(d.at(d.src.ix.rootKey("daemon"), "", "daemon must be a table ([daemon])"))
				return false
			}
		case len(k) == 1 && k[0] == "listener":
			li++
			switch d.md.Type(k...) {
			case "ArrayHash":
				d.src.set = append(d.src.set, map[string]bool{})
			case "Array": // inline tables: keys are not told apart per listener
				d.src.set = nil
			default:
				d.errs.add(d.at(d.src.ix.rootKey("listener"), "", "listener must be an array of tables ([[listener]])"))
				return false
			}
		case len(k) == 1:
			d.errs.add(d.at(d.src.ix.rootKey(k[0]), "", unknownKey(k[0], topKeys)))
		case k[0] == "daemon":
			rest := joinKey(k[1:])
			if len(k) > 2 || !daemonKeys[rest] {
				d.errs.add(d.at(d.src.ix.daemonKey(rest), "", unknownKey(rest, daemonKeyNames())))
				d.nested[tableKey{-1, k[1]}] = len(k) > 2
				continue
			}
			d.src.dset[rest] = true
		case k[0] == "listener":
			rest := joinKey(k[1:])
			if len(k) > 2 || !listenerKeys[rest] {
				d.errs.add(d.at(d.src.ix.listenerKey(li, rest), d.name(li), unknownKey(rest, listenerKeyNames())))
				d.nested[tableKey{li, k[1]}] = len(k) > 2
				continue
			}
			if li >= 0 && li < len(d.src.set) {
				d.src.set[li][rest] = true
			}
		}
	}
	return true
}

// joinKey writes a key path with dots; a single key, by far the most common, is not copied.
func joinKey(k toml.Key) string {
	if len(k) == 1 {
		return k[0]
	}
	return strings.Join(k, ".")
}

func keySet(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

// unknownKey explains an unknown key, suggesting the key it probably meant.
func unknownKey(key string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return fmt.Sprintf("unknown key %q (keys are lower-case: %q)", key, k)
		}
	}
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", key, best)
	}
	return fmt.Sprintf("unknown key %q", key)
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// daemon decodes the [daemon] table. failed reports that a value did not decode (the error is recorded).
func (d *decoder) daemon(p toml.Primitive) (_ Daemon, failed bool) {
	var r rawDaemon
	if d.md.IsDefined("daemon") {
		failed = len(d.values(p, -1, &r, wantDaemon, func(key, msg string) {
			d.errs.add(d.at(d.src.ix.daemonKey(key), "", msg))
		})) > 0
	}
	return r.daemon(), failed
}

// listener decodes the i-th [[listener]] table and fills in defaults. It returns the keys whose values did
// not decode (the errors are recorded; those keys keep their defaults), nil when there are none.
func (d *decoder) listener(i int, p toml.Primitive) (Listener, map[string]bool) {
	var r rawListener
	report := func(key, msg string) { d.errs.add(d.at(d.src.ix.listenerKey(i, key), d.name(i), msg)) }
	failed := d.values(p, i, &r, wantListener, report)
	l, bad := r.listener()
	for _, e := range bad {
		report(e.key, e.msg)
		if failed == nil {
			failed = map[string]bool{}
		}
		failed[e.key] = true
	}
	return l, failed
}

// values decodes the table p into the struct dst. When that fails it decodes again one key at a time, so
// that every bad value is reported and the others still decode. index is the listener's (-1 for [daemon]).
// Keys dst has no field for, and keys written as tables, were reported by checkKeys. It returns the keys
// that failed (the key "" when p is not a table at all), nil when none did.
func (d *decoder) values(p toml.Primitive, index int, dst any, want func(key string) string, report func(key, msg string)) map[string]bool {
	if d.md.PrimitiveDecode(p, dst) == nil {
		return nil // the common case: the whole table decodes at once
	}
	rv := reflect.ValueOf(dst).Elem()
	rv.SetZero() // and again key by key, to report every bad value
	var kv map[string]toml.Primitive
	if err := d.md.PrimitiveDecode(p, &kv); err != nil || kv == nil { // nil: toml leaves a non-table alone
		report("", "each listener must be a table")
		return map[string]bool{"": true}
	}
	fields := tomlFields(rv.Type())
	var failed map[string]bool
	for _, key := range slices.Sorted(maps.Keys(kv)) { // sorted: errors at one place come in a stable order
		f, ok := fields[key]
		if !ok || d.nested[tableKey{index, key}] {
			continue
		}
		// Decode into a fresh value: a value that fails half way must leave the field unset (left out).
		v := reflect.New(rv.Field(f).Type())
		if err := d.md.PrimitiveDecode(kv[key], v.Interface()); err != nil {
			_, msg := valueError(err, want)
			report(key, msg)
			if failed == nil {
				failed = map[string]bool{}
			}
			failed[key] = true
			continue
		}
		rv.Field(f).Set(v.Elem())
	}
	return failed
}

// tomlFields maps the toml tags of a struct's fields to their indexes.
func tomlFields(t reflect.Type) map[string]int {
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" {
			fields[tag] = i
		}
	}
	return fields
}

// name is the name of the i-th listener as written, to label its errors ("" when unknown). It is decoded
// on first use: only listeners with an error need it.
func (d *decoder) name(i int) string {
	if i < 0 || i >= len(d.tables) {
		return ""
	}
	name, ok := d.names[i]
	if !ok {
		var n struct {
			Name any `toml:"name"`
		}
		if d.md.PrimitiveDecode(d.tables[i], &n) == nil {
			name, _ = n.Name.(string)
		}
		d.names[i] = name
	}
	return name
}

func (d *decoder) at(p pos, listener, msg string) *Error {
	return &Error{File: d.src.file, Line: p.line, Col: p.col, Listener: listener, Msg: msg}
}
