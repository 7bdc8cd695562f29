package config

import "strings"

// pos is a 1-based line and byte column in the config text.
type pos struct{ line, col int }

// table records where one TOML table header and the keys written under it appear.
type table struct {
	header pos            // the "[daemon]" or "[[listener]]" line; zero for the root table
	keys   map[string]pos // key as written (dotted keys joined with "."), first occurrence
}

// keyIndex knows the position of every [daemon] and [[listener]] header and of every
// "key =" under them. BurntSushi/toml keeps key positions private (and keyed without the
// array index), so validation errors are placed with this small scanner instead.
// It understands the subset of TOML that matters for placing errors: headers, bare and
// quoted keys, comments and multi-line strings; anything else just has no position.
type keyIndex struct {
	root      table
	headers   map[string]pos // every [table] or [[array]] header name, first occurrence
	daemon    table
	listeners []table
}

// scanKeys builds the keyIndex of a config text.
func scanKeys(text string) *keyIndex {
	ix := &keyIndex{root: newTable(pos{}), headers: map[string]pos{}, daemon: newTable(pos{})}
	cur := &ix.root
	inString := "" // the delimiter of an open multi-line string
	for n, line := range strings.Split(text, "\n") {
		if inString != "" {
			if strings.Count(line, inString)%2 == 1 {
				inString = ""
			}
			continue
		}
		trimmed := strings.TrimLeft(line, " \t")
		here := pos{n + 1, len(line) - len(trimmed) + 1}
		if strings.HasPrefix(trimmed, "[") {
			cur = ix.header(trimmed, here)
			continue
		}
		if key, ok := parseKey(trimmed); ok {
			if _, seen := cur.keys[key]; !seen {
				cur.keys[key] = here
			}
		}
		for _, delim := range []string{`"""`, `'''`} {
			if strings.Count(line, delim)%2 == 1 {
				inString = delim
			}
		}
	}
	return ix
}

func newTable(p pos) table { return table{header: p, keys: map[string]pos{}} }

// header records a table header line and returns the table its keys belong to.
func (ix *keyIndex) header(line string, p pos) *table {
	array := strings.HasPrefix(line, "[[")
	name := strings.TrimLeft(line, "[")
	if i := strings.IndexByte(name, ']'); i >= 0 {
		name = name[:i]
	}
	name = unquote(strings.TrimSpace(name))
	if _, seen := ix.headers[name]; !seen {
		ix.headers[name] = p
	}
	switch {
	case array && name == "listener":
		ix.listeners = append(ix.listeners, newTable(p))
		return &ix.listeners[len(ix.listeners)-1]
	case !array && name == "daemon":
		ix.daemon = newTable(p)
		return &ix.daemon
	}
	other := newTable(p)
	return &other
}

// parseKey reads the key of a "key = value" line; ok is false for anything else.
func parseKey(s string) (key string, ok bool) {
	var parts []string
	for {
		s = strings.TrimLeft(s, " \t")
		var part string
		switch {
		case strings.HasPrefix(s, `"`) || strings.HasPrefix(s, `'`):
			end := strings.IndexByte(s[1:], s[0])
			if end < 0 {
				return "", false
			}
			part, s = s[1:end+1], s[end+2:]
		default:
			end := strings.IndexFunc(s, func(r rune) bool { return !isBareKeyRune(r) })
			if end <= 0 {
				return "", false
			}
			part, s = s[:end], s[end:]
		}
		parts = append(parts, part)
		s = strings.TrimLeft(s, " \t")
		switch {
		case strings.HasPrefix(s, "."):
			s = s[1:]
		case strings.HasPrefix(s, "="):
			return strings.Join(parts, "."), true
		default:
			return "", false
		}
	}
}

func isBareKeyRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// daemonKey is where a [daemon] key was written: the key, else the [daemon] header.
func (ix *keyIndex) daemonKey(key string) pos {
	if ix == nil {
		return pos{}
	}
	if p, ok := ix.daemon.keys[key]; ok {
		return p
	}
	if p, ok := ix.root.keys["daemon."+key]; ok {
		return p
	}
	if p, ok := ix.headers["daemon."+key]; ok {
		return p
	}
	if ix.daemon.header != (pos{}) {
		return ix.daemon.header
	}
	return ix.root.keys["daemon"]
}

// listenerKey is where key was written in the i-th [[listener]] table: the key, else the
// table's header ("" asks for the header).
func (ix *keyIndex) listenerKey(i int, key string) pos {
	if ix == nil {
		return pos{}
	}
	if i < 0 || i >= len(ix.listeners) {
		return ix.root.keys["listener"]
	}
	t := ix.listeners[i]
	if p, ok := t.keys[key]; ok && key != "" {
		return p
	}
	if p, ok := ix.headers["listener."+key]; ok && key != "" {
		return p
	}
	return t.header
}

// rootKey is where a top-level key or table header was written.
func (ix *keyIndex) rootKey(key string) pos {
	if p, ok := ix.root.keys[key]; ok {
		return p
	}
	return ix.headers[key]
}
