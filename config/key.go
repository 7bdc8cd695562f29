package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// key is one key of a TOML table that fills a T (a Listener or the Daemon): everything echogate knows
// about the key, so that it is declared once, in schema.go.
type key[T any] struct {
	name string
	// only is the one protocol a listener key applies to; "" = every listener (and every daemon key).
	only Protocol
	// field returns a pointer to the field the key fills: a *string, *Protocol, *Mode, *int, *bool,
	// *time.Duration, *[]netip.Prefix, *[]uint16 or *[]string. Its type says how the TOML value is read.
	field func(t *T) any
	// def is the default, of the field's type; nil = the zero value.
	def any
	// want is the value expected, as in "mode must be <want>, not a TOML integer"; "" = from the type.
	want string
	// enum lists the values a string key accepts; nil = any string.
	enum []string
	// parse normalises a string value as it is decoded, or refuses it (address).
	parse func(string) (string, error)
	// lo and hi bound an integer key, or each number of a *[]uint16 key, when hi > 0; floor, when set,
	// raises lo and says why.
	lo, hi int
	floor  func(t *T) (lo int, why string)
	// least is the shortest duration allowed, but for "0s" when off is set (it turns the thing off);
	// why says where least comes from.
	least time.Duration
	off   bool
	why   string
	// rule is one more check of the value alone; it returns what is wrong, "" when nothing is.
	rule func(key string, v any) string
	// unset is how a reload's diff writes a list key that was left out (a nil list of CIDRs, or a list of
	// numbers at its default); "" = "any" for CIDRs (allow: every client), the list itself for numbers.
	unset string
	// example is the value the README shows for a key whose default can not be written (none, or "left
	// out"); "" = the default. doc is the key's comment there.
	example, doc string
}

// format writes v, a value of k, for a reload's diff (FormatValue, with k's word for a list left out).
func (k *key[T]) format(v any) string {
	if l, ok := v.([]netip.Prefix); ok && l == nil && k.unset != "" {
		return k.unset
	}
	if l, ok := v.([]uint16); ok && k.unset != "" && slices.Equal(l, k.def.([]uint16)) {
		return k.unset
	}
	return FormatValue(v)
}

// appliesTo reports whether k is a key of a listener of protocol p (every key applies to "").
func (k *key[T]) appliesTo(p Protocol) bool { return k.only == "" || k.only == p }

// get returns the value of k in t.
func (k *key[T]) get(t *T) any {
	switch f := k.field(t).(type) {
	case *string:
		return *f
	case *Protocol:
		return *f
	case *Mode:
		return *f
	case *int:
		return *f
	case *bool:
		return *f
	case *time.Duration:
		return *f
	case *[]netip.Prefix:
		return *f
	case *[]uint16:
		return *f
	case *[]string:
		return *f
	}
	panic("config: key " + k.name + " has a field of an unknown type")
}

// setDefault sets k's field in t to its default. Lists are copied, so that no two listeners share one.
func (k *key[T]) setDefault(t *T) {
	if k.def == nil {
		return
	}
	switch f := k.field(t).(type) {
	case *[]netip.Prefix:
		*f = slices.Clone(k.def.([]netip.Prefix))
	case *[]uint16:
		*f = slices.Clone(k.def.([]uint16))
	case *string:
		*f = k.def.(string)
	case *Mode:
		*f = k.def.(Mode)
	case *int:
		*f = k.def.(int)
	case *bool:
		*f = k.def.(bool)
	case *time.Duration:
		*f = k.def.(time.Duration)
	default:
		panic("config: key " + k.name + " has a default of the wrong type")
	}
}

// decode sets k's field in t from v, a value as BurntSushi/toml decodes it into an `any`. It returns what
// is wrong with v ("" when nothing is); the field is then left as it was.
func (k *key[T]) decode(t *T, v any) string {
	switch f := k.field(t).(type) {
	case *string:
		return k.text(v, f)
	case *Protocol:
		return k.text(v, (*string)(f))
	case *Mode:
		return k.text(v, (*string)(f))
	case *int:
		n, ok := v.(int64)
		if !ok {
			return k.typeError(v)
		}
		*f = int(max(min(n, int64(maxInt)), int64(minInt))) // saturated, so that range checks still fail
	case *bool:
		b, ok := v.(bool)
		if !ok {
			return k.typeError(v)
		}
		*f = b
	case *time.Duration:
		return k.duration(v, f)
	case *[]netip.Prefix:
		return k.prefixes(v, f)
	case *[]uint16:
		return k.ports(v, f)
	case *[]string:
		return k.strings(v, f)
	default:
		panic("config: key " + k.name + " has a field of an unknown type")
	}
	return ""
}

// text decodes a string key: one of enum, and normalised by parse, when they are set.
func (k *key[T]) text(v any, dst *string) string {
	s, ok := v.(string)
	if !ok {
		return k.typeError(v)
	}
	if msg := k.notInEnum(s); msg != "" {
		return k.name + ": " + msg
	}
	if k.parse != nil {
		var err error
		if s, err = k.parse(s); err != nil {
			return k.name + ": " + err.Error()
		}
	}
	*dst = s
	return ""
}

// duration decodes a duration string. A bare integer is told to carry a unit.
func (k *key[T]) duration(v any, dst *time.Duration) string {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int64:
		s = strconv.FormatInt(v, 10)
	default:
		return k.typeError(v)
	}
	d, err := parseDuration(s)
	if err != nil {
		return k.name + ": " + err.Error()
	}
	*dst = d
	return ""
}

// prefixes decodes an array of CIDR strings.
func (k *key[T]) prefixes(v any, dst *[]netip.Prefix) string {
	list, ok := v.([]any)
	if !ok {
		return k.typeError(v)
	}
	out := make([]netip.Prefix, len(list))
	for i, e := range list {
		var s string
		switch e := e.(type) {
		case string:
			s = e
		case []any, map[string]any:
			return k.typeError(e)
		default:
			s = fmt.Sprint(e) // a number or a date: parseCIDR says it is no CIDR
		}
		p, err := parseCIDR(s)
		if err != nil {
			return k.name + ": " + err.Error()
		}
		out[i] = p
	}
	*dst = out
	return ""
}

// ports decodes an array of port numbers (or of numbers within lo..hi), sorted and without repeats.
func (k *key[T]) ports(v any, dst *[]uint16) string {
	list, ok := v.([]any)
	if !ok {
		return k.typeError(v)
	}
	out := make([]uint16, 0, len(list))
	for _, e := range list {
		p, ok := e.(int64)
		if !ok {
			return k.typeError(e)
		}
		switch {
		case k.hi > 0 && (p < int64(k.lo) || p > int64(k.hi)):
			return fmt.Sprintf("%s: %d is out of range (%d..%d)", k.name, p, k.lo, k.hi)
		case p < 0 || p > 65535:
			return fmt.Sprintf("%s: %d is not a port number (0..65535)", k.name, p)
		}
		out = append(out, uint16(p))
	}
	slices.Sort(out)
	*dst = slices.Compact(out)
	return ""
}

// strings decodes an array of strings.
func (k *key[T]) strings(v any, dst *[]string) string {
	list, ok := v.([]any)
	if !ok {
		return k.typeError(v)
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return k.typeError(e)
		}
		out[i] = s
	}
	*dst = out
	return ""
}

// typeError says that v is not of the key's type.
func (k *key[T]) typeError(v any) string {
	return fmt.Sprintf("%s must be %s, not a TOML %s", k.name, k.wanted(), tomlType(v))
}

// wanted is the value k expects, for type errors.
func (k *key[T]) wanted() string {
	if k.want != "" {
		return k.want
	}
	switch k.field(new(T)).(type) {
	case *int:
		return "an integer"
	case *bool:
		return "true or false"
	case *time.Duration:
		example := "30s"
		if d, ok := k.def.(time.Duration); ok && d > 0 {
			example = shortDuration(d)
		}
		return `a duration string like "` + example + `"`
	case *[]netip.Prefix:
		return "an array of CIDR strings"
	case *[]uint16:
		return "an array of port numbers"
	case *[]string:
		return "an array of strings"
	}
	return "a string"
}

// tomlType names the type of a value BurntSushi/toml decoded the way a TOML user thinks of it.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case map[string]any:
		return "table"
	case []any, []map[string]any:
		return "array"
	}
	return "date-time"
}

const (
	maxInt = int(^uint(0) >> 1)
	minInt = -maxInt - 1
)
