package main

import (
	"strings"
	"testing"

	"echogate/internal/echotest"
)

// TestHelpEveryCommand checks `echogate NAME -h` and `echogate help NAME` for every command: exit 0, the
// synopsis, every flag and examples, the same text both ways.
func TestHelpEveryCommand(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := echotest.RunCLI(t, c.name, "-h")
			if code != 0 {
				t.Fatalf("echogate %s -h: exit %d, want 0\n%s", c.name, code, stderr)
			}
			for _, want := range []string{"usage: echogate " + c.name, c.about, "\nexamples:\n  "} {
				if !strings.Contains(stdout, want) {
					t.Errorf("echogate %s -h does not say %q:\n%s", c.name, want, stdout)
				}
			}
			for _, f := range flagsOf(c) {
				if !strings.Contains(stdout, "\n  -"+f.Name) || !strings.Contains(stdout, firstClause(f.Usage)) {
					t.Errorf("echogate %s -h does not describe -%s:\n%s", c.name, f.Name, stdout)
				}
			}
			help, _, code := echotest.RunCLI(t, "help", c.name)
			if code != 0 || help != stdout {
				t.Errorf("echogate help %s (exit %d) differs from -h:\n%s", c.name, code, help)
			}
		})
	}
}

// TestHelpList checks that `echogate help` lists every command and exits 0, and that an unknown command or
// flag exits 2 and says where help is.
func TestHelpList(t *testing.T) {
	t.Parallel()
	stdout, _, code := echotest.RunCLI(t, "help")
	if code != 0 {
		t.Fatalf("echogate help: exit %d", code)
	}
	for _, c := range commands() {
		if !strings.Contains(stdout, "\n  "+c.name+" ") {
			t.Errorf("echogate help does not list %s:\n%s", c.name, stdout)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "nosuch"}, `unknown command "nosuch"`},
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"check", "-nosuch"}, "Run 'echogate help check' for its flags."},
		{[]string{"reload", "-nosuch"}, "Run 'echogate help reload' for its flags."},
	} {
		_, stderr, code := echotest.RunCLI(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("echogate %v: exit %d, want 2 and %q:\n%s", tc.args, code, tc.want, stderr)
		}
	}
}
