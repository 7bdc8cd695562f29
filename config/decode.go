package config

import (
	"crypto/sha256"
	"fmt"
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
	src   *source
	md    toml.MetaData
	names []string // listener names as far as they are known, for error labels
}

// Decode parses and validates a TOML configuration. file names the text in errors.
// Keys are strict: an unknown key, or a known key written in another case, is an error.
// Left-out keys get their defaults; keys that do not apply to a listener's protocol are
// errors, and the fields of the other protocol stay zero. Every error is an *Error.
// Decode does not read tokens: see LoadTokens and Load.
func Decode(file string, data []byte) (*Config, error) {
	text := string(data)
	d := &decoder{src: &source{file: file, ix: scanKeys(text), dset: map[string]bool{}}}
	var raw rawFile
	md, err := toml.Decode(text, &raw)
	if err != nil && len(md.Keys()) == 0 {
		return nil, syntaxError(file, text, err)
	}
	d.md = md
	d.names = d.listenerNames(raw.Listener)
	if e := d.checkKeys(); e != nil {
		return nil, e
	}
	if err != nil {
		return nil, syntaxError(file, text, err)
	}
	cfg := &Config{Path: file, Hash: sha256.Sum256(data), src: d.src}
	if cfg.Daemon, err = d.daemon(raw.Daemon); err != nil {
		return nil, err
	}
	for i, p := range raw.Listener {
		l, err := d.listener(i, p)
		if err != nil {
			return nil, err
		}
		cfg.Listeners = append(cfg.Listeners, l)
	}
	if left := md.Undecoded(); len(left) > 0 {
		return nil, &Error{File: file, Msg: fmt.Sprintf("unknown key %q", left[0].String())}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// listenerNames decodes just the names, to label errors found before the full decode.
func (d *decoder) listenerNames(ps []toml.Primitive) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		var n struct {
			Name any `toml:"name"`
		}
		if d.md.PrimitiveDecode(p, &n) == nil {
			names[i], _ = n.Name.(string)
		}
	}
	return names
}

// checkKeys refuses unknown keys, keys in the wrong case and tables of the wrong shape,
// and records which keys each table sets.
func (d *decoder) checkKeys() *Error {
	li := -1
	for _, k := range d.md.Keys() {
		switch {
		case len(k) == 1 && k[0] == "daemon":
			if t := d.md.Type(k...); t != "Hash" {
				return d.at(d.src.ix.rootKey("daemon"), "", "daemon must be a table ([daemon])")
			}
		case len(k) == 1 && k[0] == "listener":
			li++
			switch d.md.Type(k...) {
			case "ArrayHash":
				d.src.set = append(d.src.set, map[string]bool{})
			case "Array": // inline tables: keys are not told apart per listener
				d.src.set = nil
			default:
				return d.at(d.src.ix.rootKey("listener"), "", "listener must be an array of tables ([[listener]])")
			}
		case len(k) == 1:
			return d.at(d.src.ix.rootKey(k[0]), "", unknownKey(k[0], topKeys))
		case k[0] == "daemon":
			rest := strings.Join(k[1:], ".")
			if len(k) > 2 || !slices.Contains(daemonKeyNames(), rest) {
				return d.at(d.src.ix.daemonKey(rest), "", unknownKey(rest, daemonKeyNames()))
			}
			d.src.dset[rest] = true
		case k[0] == "listener":
			rest := strings.Join(k[1:], ".")
			if len(k) > 2 || !slices.Contains(listenerKeyNames(), rest) {
				return d.at(d.src.ix.listenerKey(li, rest), d.name(li), unknownKey(rest, listenerKeyNames()))
			}
			if li >= 0 && li < len(d.src.set) {
				d.src.set[li][rest] = true
			}
		}
	}
	return nil
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

// daemon decodes the [daemon] table.
func (d *decoder) daemon(p toml.Primitive) (Daemon, error) {
	var r rawDaemon
	if !d.md.IsDefined("daemon") {
		return r.daemon(), nil
	}
	if err := d.md.PrimitiveDecode(p, &r); err != nil {
		key, msg := valueError(err, wantDaemon)
		return Daemon{}, d.at(d.src.ix.daemonKey(key), "", msg)
	}
	return r.daemon(), nil
}

// listener decodes the i-th [[listener]] table and fills in defaults.
func (d *decoder) listener(i int, p toml.Primitive) (Listener, error) {
	var r rawListener
	if err := d.md.PrimitiveDecode(p, &r); err != nil {
		key, msg := valueError(err, wantListener)
		if _, known := listenerKeySpec(key); !known {
			key, msg = "", "each listener must be a table"
		}
		return Listener{}, d.at(d.src.ix.listenerKey(i, key), d.name(i), msg)
	}
	l, key, err := r.listener()
	if err != nil {
		return Listener{}, d.at(d.src.ix.listenerKey(i, key), d.name(i), err.Error())
	}
	return l, nil
}

func (d *decoder) name(i int) string {
	if i >= 0 && i < len(d.names) {
		return d.names[i]
	}
	return ""
}

func (d *decoder) at(p pos, listener, msg string) *Error {
	return &Error{File: d.src.file, Line: p.line, Col: p.col, Listener: listener, Msg: msg}
}
