package config

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Error is a configuration error with the place it was found. Decode and Validate return every error they
// find as Errors; LoadTokens and FromListenFlags's spec errors are a single *Error. errors.As(err, &e) with
// e an *Error finds the first error in either case.
type Error struct {
	File     string // file name as given to Decode; "" when the config came from flags
	Line     int    // 1-based; 0 when unknown
	Col      int    // 1-based byte column; 0 when unknown
	Listener string // listener name; "" for [daemon], syntax errors or a listener without a name
	Msg      string
}

// Error formats the error as `file:line:col: listener "name": msg`, leaving out the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Listener != "" {
		fmt.Fprintf(&b, "listener %q: ", e.Listener)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// MaxErrors is how many errors Errors shows at most; when there were more, one last entry says how many.
const MaxErrors = 20

// Errors is every problem found in one configuration, in file order (errors with no line come last).
// It is never empty. Error joins them one per line; errors.As finds the first *Error.
type Errors []*Error

// Error returns the errors one per line, with no trailing newline.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// errorList collects the errors of one Decode or Validate.
type errorList struct {
	file string // where the errors are, for the "more errors" note
	errs []*Error
}

func (l *errorList) add(e *Error) { l.errs = append(l.errs, e) }

func (l *errorList) empty() bool { return len(l.errs) == 0 }

// err returns nil, or the errors sorted into file order and cut to MaxErrors.
func (l *errorList) err() error { return JoinErrors(l.file, l.errs) }

// JoinErrors returns errs as Errors, sorted into file order and cut to MaxErrors as Decode does (the note
// of how many were left out names file), or nil when errs is empty. It is for errors found outside this
// package, such as binds that fail in `echogate check -bind`.
func JoinErrors(file string, errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	es := slices.Clone(errs)
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(sortLine(a), sortLine(b)), cmp.Compare(a.Col, b.Col))
	})
	if len(es) > MaxErrors {
		more := len(es) - MaxErrors
		es = append(es[:MaxErrors], &Error{File: file, Msg: fmt.Sprintf("and %d more error(s) not shown", more)})
	}
	return Errors(es)
}

// sortLine orders errors with no line after the placed ones.
func sortLine(e *Error) int {
	if e.Line == 0 {
		return maxInt
	}
	return e.Line
}

// lastKeyRE finds the key path in BurntSushi/toml's plain (non-ParseError) messages.
var lastKeyRE = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)

// syntaxError turns an error from toml.Decode (before any value was decoded) into an *Error.
// The position is recomputed from the byte offset: toml's own line and column are off by
// one line when the error is at a newline.
func syntaxError(file, text string, err error) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		e := &Error{File: file, Line: pe.Position.Line, Col: pe.Position.Col, Msg: pe.Message}
		if start := pe.Position.Start; start > 0 && start <= len(text) {
			e.Line = strings.Count(text[:start], "\n") + 1
			e.Col = start - strings.LastIndexByte(text[:start], '\n')
		}
		return e
	}
	e := &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	if m := lastKeyRE.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[3]
	}
	return e
}
