package logmsg

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"echogate/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the README's list of log messages")

// logging are the packages that log, relative to this one.
var logging = []string{"../../cmd/echogate", "../../listeners", "../../systemd", "../logq", "../httpapi", "../metrics"}

// msgArg is the index of the message among the arguments of each logging call: slog's Logger methods and
// slog.NewRecord.
var msgArg = map[string]int{"Debug": 0, "Info": 0, "Warn": 0, "Error": 0, "Log": 2, "LogAttrs": 2, "NewRecord": 2}

// TestEveryMessageIsAConstant reads the code of every package that logs and fails on a log call whose
// message is not one of this package's constants, so that the README's list stays the whole set.
func TestEveryMessageIsAConstant(t *testing.T) {
	calls := 0
	for _, dir := range logging {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				i, logs := msgArg[sel.Sel.Name]
				if !logs || len(call.Args) <= i {
					return true
				}
				if _, lit := call.Args[i].(*ast.BasicLit); lit {
					t.Errorf("%s: a log message written as a literal: use a constant of echogate/internal/logmsg", fset.Position(call.Pos()))
				}
				if arg, ok := call.Args[i].(*ast.SelectorExpr); ok {
					if x, ok := arg.X.(*ast.Ident); ok && x.Name == "logmsg" {
						calls++
					}
				}
				return true
			})
		}
	}
	if calls < 50 {
		t.Errorf("found %d log calls with a logmsg constant; the walk is missing code", calls)
	}
}

// message is one constant of logmsg.go: its value and its comment.
type message struct{ value, doc string }

// messages reads the constants of logmsg.go in order.
func messages(t *testing.T) []message {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "logmsg.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var out []message
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			value, err := strconv.Unquote(v.Values[0].(*ast.BasicLit).Value)
			if err != nil || v.Comment == nil {
				t.Fatalf("%s: want a string and a comment", v.Names[0].Name)
			}
			out = append(out, message{value, strings.TrimSpace(v.Comment.Text())})
		}
	}
	return out
}

const (
	listBegin = "<!-- log messages: written by go test ./internal/logmsg -update -->\n"
	listEnd   = "<!-- end of log messages -->\n"
)

// TestREADMEListsMessages checks that the README lists every message, with its comment, in the order of
// logmsg.go; -update rewrites the list.
func TestREADMEListsMessages(t *testing.T) {
	var b strings.Builder
	b.WriteString("| msg | what happened |\n|---|---|\n")
	for _, m := range messages(t) {
		b.WriteString("| `" + m.value + "` | " + strings.ReplaceAll(m.doc, "|", `\|`) + " |\n")
	}
	golden.Region(t, "../../README.md", listBegin, listEnd, b.String(), "go test ./internal/logmsg -update", *update)
}
