package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// command is one subcommand of echogate: what `echogate help`, `-h` and the completion scripts say about it.
type command struct {
	name     string
	args     string   // the synopsis after the name, e.g. "-config FILE [-bind]"
	summary  string   // one line for the list of commands
	about    string   // what the command does, for `echogate help NAME`
	examples []string // command lines, each with a comment after "  # "
	// flags declares the command's flags on fs; nil for a command without flags.
	flags func(fs *flag.FlagSet)
	run   func(args []string) int
}

// commands are echogate's subcommands, in the order help lists them.
func commands() []command {
	return []command{runCmd(), checkCmd(), configCmd(), reloadCmd(), statusCmd(), stateCmd(), versionCmd(), completionCmd(), helpCmd()}
}

// findCommand returns the subcommand called name.
func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// flagSet returns c's flags, declared on a new set whose -h prints c's help (see parseFlags).
func (c command) flagSet() *flag.FlagSet {
	fs := newFlagSet(c.name)
	if c.flags != nil {
		c.flags(fs)
	}
	return fs
}

// newFlagSet returns an empty flag set for the command called name; parse it with parseFlags.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {} // parseFlags prints the help or the hint, not the flag package
	return fs
}

// parseFlags parses args into fs, the flags of the command called fs.Name(). On -h it prints the command's
// help to stdout (exit 0); on a bad flag it has printed the flag package's error and adds where help is
// (exit 2). stop says that the command must return code at once.
func parseFlags(fs *flag.FlagSet, args []string) (code int, stop bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		c, _ := findCommand(fs.Name())
		writeHelp(os.Stdout, c)
		return 0, true
	}
	fmt.Fprintf(fs.Output(), "Run 'echogate help %s' for its flags.\n", fs.Name())
	return 2, true
}

// noArgs parses the flags of a command that takes no arguments besides them.
func noArgs(c command, args []string) (code int, stop bool) {
	fs := c.flagSet()
	if code, stop := parseFlags(fs, args); stop {
		return code, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "echogate %s: unexpected argument %q\n", c.name, fs.Arg(0))
		return 2, true
	}
	return 0, false
}

// writeHelp writes the help of c: synopsis, description, every flag with its default, and examples.
func writeHelp(w io.Writer, c command) {
	fmt.Fprintf(w, "usage: echogate %s %s\n\n%s\n", c.name, c.args, c.about)
	fs := c.flagSet()
	if hasFlags(fs) {
		fmt.Fprint(w, "\nflags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if len(c.examples) > 0 {
		fmt.Fprint(w, "\nexamples:\n")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// writeUsage writes the list of commands, for `echogate help` and a command line without one.
func writeUsage(w io.Writer) {
	fmt.Fprint(w, "usage: echogate <command> [flags]\n\n"+
		"echogate serves many TCP and UDP echo endpoints, declared in one TOML file, from one epoll event loop.\n\n"+
		"commands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s  %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'echogate help <command>' (or 'echogate <command> -h') for a command's flags and examples;\n"+
		"'man echogate' and 'man echogate.toml' for the whole manual.\n")
}

func versionCmd() command {
	return command{
		name: "version", args: "", summary: "print the version",
		about:    "Prints \"echogate VERSION\": the version of the binary, which is the version of its package.",
		examples: []string{"echogate version"},
		run:      versionCommand,
	}
}

func versionCommand(args []string) int {
	if code, stop := noArgs(versionCmd(), args); stop {
		return code
	}
	fmt.Println("echogate", version)
	return 0
}

func helpCmd() command {
	return command{
		name: "help", args: "[command]", summary: "list the commands, or show one command's flags and examples",
		about: "Without an argument, lists the commands. With one, prints that command's description, every flag " +
			"with its default, and examples (the same as 'echogate COMMAND -h'). Exits 0, or 2 for an unknown command.",
		examples: []string{"echogate help", "echogate help run"},
		run:      helpCommand,
	}
}

func helpCommand(args []string) int {
	fs := helpCmd().flagSet()
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	switch fs.NArg() {
	case 0:
		writeUsage(os.Stdout)
		return 0
	case 1:
		c, ok := findCommand(fs.Arg(0))
		if !ok {
			fmt.Fprintf(os.Stderr, "echogate help: unknown command %q\n\n", fs.Arg(0))
			writeUsage(os.Stderr)
			return 2
		}
		writeHelp(os.Stdout, c)
		return 0
	}
	fmt.Fprintln(os.Stderr, "echogate help: give at most one command")
	return 2
}
