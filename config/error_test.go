package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// mustErrors checks that err is the Errors that Decode and Validate return: not empty, every entry with a
// message and a sane position.
func mustErrors(t *testing.T, err error) Errors {
	t.Helper()
	es, ok := err.(Errors)
	if !ok || len(es) == 0 {
		t.Fatalf("got %T %v, want a non-empty Errors", err, err)
	}
	for _, e := range es {
		if e == nil || e.Msg == "" || e.Line < 0 || e.Col < 0 {
			t.Fatalf("bad entry %#v in %v", e, err)
		}
	}
	return es
}

func TestErrorsList(t *testing.T) {
	es := Errors{{File: "e.toml", Line: 3, Col: 1, Listener: "a", Msg: "one"}, {File: "e.toml", Msg: "two"}}
	if got, want := es.Error(), "e.toml:3:1: listener \"a\": one\ne.toml: two"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var first *Error
	if !errors.As(fmt.Errorf("reload: %w", es), &first) || first != es[0] {
		t.Errorf("errors.As found %v, want the first error", first)
	}
}

func TestErrorListOrderAndCap(t *testing.T) {
	l := errorList{file: "e.toml"}
	l.add(&Error{File: "e.toml", Msg: "no line"})
	for line := 30; line >= 1; line-- {
		l.add(&Error{File: "e.toml", Line: line, Col: 1, Msg: fmt.Sprint("line ", line)})
	}
	l.add(&Error{File: "e.toml", Line: 2, Col: 9, Msg: "line 2, col 9"})
	es := mustErrors(t, l.err())
	if len(es) != MaxErrors+1 {
		t.Fatalf("%d entries, want %d and a note", len(es), MaxErrors)
	}
	want := []string{"line 1", "line 2", "line 2, col 9", "line 3"}
	for i, w := range want {
		if es[i].Msg != w {
			t.Errorf("entry %d = %q, want %q", i, es[i].Msg, w)
		}
	}
	if last := es[MaxErrors].Error(); last != "e.toml: and 12 more error(s) not shown" {
		t.Errorf("note = %q", last)
	}
	if !strings.HasPrefix(es[MaxErrors-1].Msg, "line 19") {
		t.Errorf("entry %d = %q, want line 19", MaxErrors-1, es[MaxErrors-1].Msg)
	}
}
