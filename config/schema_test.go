package config

import (
	"reflect"
	"testing"
)

// TestEveryFieldHasOneKey checks that the key tables and the types agree: every field of Listener and Daemon
// is filled by exactly one key (Listener.Token, StampKey and TLS, read from files, by none), and no two keys
// share a name. A field added without a key, or a key pointing at the wrong field, fails here.
func TestEveryFieldHasOneKey(t *testing.T) {
	checkFields(t, listenerKeys, map[string]bool{"Token": true, "StampKey": true, "TLS": true})
	checkFields(t, daemonKeys, nil)
}

func checkFields[T any](t *testing.T, keys []key[T], noKey map[string]bool) {
	t.Helper()
	var v T
	base := reflect.ValueOf(&v).Elem()
	byAddr := map[uintptr]string{}
	names := map[string]bool{}
	for i := range keys {
		k := &keys[i]
		if names[k.name] {
			t.Errorf("key %q is declared twice", k.name)
		}
		names[k.name] = true
		addr := reflect.ValueOf(k.field(&v)).Pointer()
		if other, dup := byAddr[addr]; dup {
			t.Errorf("keys %q and %q fill one field", other, k.name)
		}
		byAddr[addr] = k.name
		_ = k.get(&v)         // panics for a field of a type the key code does not know
		_ = k.decode(&v, nil) // and so does decode
		if k.def != nil {
			k.setDefault(&v) // panics for a default of the wrong type
		}
	}
	for i := range base.NumField() {
		f := base.Type().Field(i)
		_, has := byAddr[base.Field(i).Addr().Pointer()]
		switch {
		case !f.IsExported():
		case noKey[f.Name] && has:
			t.Errorf("%s.%s has a key but should have none", base.Type().Name(), f.Name)
		case !noKey[f.Name] && !has:
			t.Errorf("%s.%s is filled by no key: declare one in schema.go", base.Type().Name(), f.Name)
		}
	}
}
