package config

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

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
	tables []any // the [[listener]] tables, as BurntSushi/toml decodes them into an `any`
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
	var raw map[string]any // decoded into plain values: the key table (schema.go) reads them
	md, err := toml.Decode(text, &raw)
	if err != nil && len(md.Keys()) == 0 {
		return nil, Errors{syntaxError(file, text, err)}
	}
	d.md = md
	d.tables = tablesOf(raw["listener"])
	if !d.checkKeys() || err != nil { // a table of the wrong shape: nothing more can be decoded
		if d.errs.empty() {
			d.errs.add(syntaxError(file, text, err))
		}
		return nil, d.errs.err()
	}
	cfg := &Config{Path: file, Hash: sha256.Sum256(data), src: d.src}
	v := &validator{c: cfg, errs: &d.errs, failed: make([]map[string]bool, len(d.tables))}
	cfg.Daemon, v.daemonFailed = d.daemon(raw["daemon"])
	cfg.Listeners = make([]Listener, len(d.tables))
	for i, t := range d.tables {
		cfg.Listeners[i], v.failed[i] = d.listener(i, t)
	}
	// No key is left undecoded: checkKeys has reported every key that is not in the key tables, and
	// decodeTable reads every key that is.
	v.all()
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// tablesOf returns the elements of the listener array: tables for [[listener]], any values for an inline
// array (checkKeys has refused anything else).
func tablesOf(v any) []any {
	switch v := v.(type) {
	case []map[string]any:
		out := make([]any, len(v))
		for i, t := range v {
			out[i] = t
		}
		return out
	case []any:
		return v
	}
	return nil
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

// daemon decodes the [daemon] table (nil when left out) over the defaults. It returns the keys whose values
// did not decode (the errors are recorded; those keys keep their defaults), nil when there are none.
func (d *decoder) daemon(t any) (Daemon, map[string]bool) {
	dm := DefaultDaemon()
	m, _ := t.(map[string]any)
	report := func(key, msg string) { d.errs.add(d.at(d.src.ix.daemonKey(key), "", msg)) }
	failed := decodeTable(d, &dm, daemonKeys, m, -1, report)
	return dm, failed
}

// listener decodes the i-th [[listener]] table over the defaults of its protocol. It returns the keys whose
// values did not decode (the errors are recorded; those keys keep their defaults), nil when there are none.
// Keys of the other protocol are decoded too, so that Validate can name them.
func (d *decoder) listener(i int, t any) (Listener, map[string]bool) {
	report := func(key, msg string) { d.errs.add(d.at(d.src.ix.listenerKey(i, key), d.name(i), msg)) }
	m, ok := t.(map[string]any)
	if !ok {
		report("", "each listener must be a table")
		return DefaultListener("", "", ""), map[string]bool{"": true}
	}
	proto, _ := m["protocol"].(string) // the defaults depend on it; a bad one is reported below
	if p := Protocol(proto); p != TCP && p != UDP {
		proto = ""
	}
	l := DefaultListener("", Protocol(proto), "")
	failed := decodeTable(d, &l, listenerKeys, m, i, report)
	if _, written := m["max_output"]; !written {
		fitLine(&l)
	}
	return l, failed
}

// decodeTable decodes the values of table m into t, key by key in the order of keys, so that every bad
// value is reported (in a stable order) and the others still decode. index is the listener's (-1 for
// [daemon]). Keys the table has no entry for, and keys written as tables, were reported by checkKeys. It
// returns the keys that failed, nil when none did.
func decodeTable[T any](d *decoder, t *T, keys []key[T], m map[string]any, index int, report func(key, msg string)) map[string]bool {
	var failed map[string]bool
	for i := range keys {
		k := &keys[i]
		v, ok := m[k.name]
		if !ok || d.nested[tableKey{index, k.name}] {
			continue
		}
		if msg := k.decode(t, v); msg != "" {
			report(k.name, msg)
			if failed == nil {
				failed = map[string]bool{}
			}
			failed[k.name] = true
		}
	}
	return failed
}

// name is the name of the i-th listener as written, to label its errors ("" when unknown).
func (d *decoder) name(i int) string {
	if i < 0 || i >= len(d.tables) {
		return ""
	}
	m, _ := d.tables[i].(map[string]any)
	name, _ := m["name"].(string)
	return name
}

func (d *decoder) at(p pos, listener, msg string) *Error {
	return &Error{File: d.src.file, Line: p.line, Col: p.col, Listener: listener, Msg: msg}
}
