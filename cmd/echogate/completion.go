package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"echogate/config"
)

// shells are the shells `echogate completion` writes a script for.
var shells = []string{"bash", "zsh", "fish"}

func completionCmd() command {
	return command{
		name: "completion", args: "bash|zsh|fish",
		summary: "print a shell completion script (commands, flags, -config files, -log-format values)",
		about: "Prints a completion script for the shell: the commands, each command's flags, TOML file names after\n" +
			"-config, and the values of -log-format and -log-level. The package installs the bash, zsh and fish\n" +
			"scripts; to try one in the current shell, source it as in the examples.",
		examples: []string{
			"source <(echogate completion bash)",
			"echogate completion zsh > \"${fpath[1]}/_echogate\"",
			"echogate completion fish | source",
		},
		run: completionCommand,
	}
}

func completionCommand(args []string) int {
	fs := completionCmd().flagSet()
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(os.Stderr, "echogate completion: name one shell: %s\n", strings.Join(shells, ", "))
		return 2
	}
	switch fs.Arg(0) {
	case "bash":
		writeBash(os.Stdout)
	case "zsh":
		writeZsh(os.Stdout)
	case "fish":
		writeFish(os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "echogate completion: unknown shell %q: want %s\n", fs.Arg(0), strings.Join(shells, ", "))
		return 2
	}
	return 0
}

// flagValues says what follows a flag that takes a value: "files" (TOML files and directories), "paths"
// (any file), a list of words, or nil (anything: no completion).
func flagValues(f *flag.Flag) (kind string, words []string) {
	switch f.Name {
	case "config":
		return "files", nil
	case "control":
		return "paths", nil
	case "log-format":
		return "words", logFormats
	case "log-level":
		return "words", config.LogLevels
	}
	return "", nil
}

// argWords are the words a command takes as arguments, after its flags.
func argWords(c command) []string {
	switch c.name {
	case "help":
		var names []string
		for _, c := range commands() {
			names = append(names, c.name)
		}
		return names
	case "completion":
		return shells
	}
	return nil
}

// isBool reports whether f is a flag without a value (-bind, -json).
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// flagsOf lists c's flags in the order the flag package sorts them.
func flagsOf(c command) []*flag.Flag {
	var out []*flag.Flag
	c.flagSet().VisitAll(func(f *flag.Flag) { out = append(out, f) })
	return out
}

func commandNames() string { return strings.Join(argWords(helpCmd()), " ") }

func writeBash(w io.Writer) {
	fmt.Fprintf(w, `# bash completion for echogate                             -*- shell-script -*-
# Written by "echogate completion bash".
_echogate() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "%s" -- "$cur"))
		return
	fi
	local words=""
	case "${COMP_WORDS[1]}:${prev#-}" in
`, commandNames())
	for _, c := range commands() {
		for _, f := range flagsOf(c) {
			switch kind, words := flagValues(f); kind {
			case "files":
				fmt.Fprintf(w, "\t%s:%s | %s:-%s)\n\t\tcompopt -o filenames 2>/dev/null\n"+
					"\t\tCOMPREPLY=($(compgen -f -X '!*.toml' -- \"$cur\") $(compgen -d -- \"$cur\"))\n\t\treturn ;;\n",
					c.name, f.Name, c.name, f.Name)
			case "paths":
				fmt.Fprintf(w, "\t%s:%s | %s:-%s)\n\t\tcompopt -o filenames 2>/dev/null\n"+
					"\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\t\treturn ;;\n", c.name, f.Name, c.name, f.Name)
			case "words":
				fmt.Fprintf(w, "\t%s:%s | %s:-%s)\n\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\treturn ;;\n",
					c.name, f.Name, c.name, f.Name, strings.Join(words, " "))
			}
		}
	}
	fmt.Fprint(w, "\tesac\n\tcase \"${COMP_WORDS[1]}\" in\n")
	for _, c := range commands() {
		var words []string
		for _, f := range flagsOf(c) {
			words = append(words, "-"+f.Name)
		}
		words = append(append(words, "-h"), argWords(c)...)
		fmt.Fprintf(w, "\t%s) words=%q ;;\n", c.name, strings.Join(words, " "))
	}
	fmt.Fprint(w, "\tesac\n\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\ncomplete -F _echogate echogate\n")
}

func writeZsh(w io.Writer) {
	fmt.Fprint(w, "#compdef echogate\n# zsh completion for echogate, written by \"echogate completion zsh\".\n\n"+
		"_echogate() {\n\tlocal -a commands\n\tcommands=(\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "\t\t%s\n", zshQuote(c.name+":"+c.summary))
	}
	fmt.Fprint(w, "\t)\n\tif (( CURRENT == 2 )); then\n\t\t_describe -t commands 'echogate command' commands\n\t\treturn\n\tfi\n"+
		"\tlocal cmd=${words[2]}\n\tshift words\n\t(( CURRENT-- ))\n\tcase $cmd in\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "\t%s)\n\t\t_arguments -S \\\n", c.name)
		for _, f := range flagsOf(c) {
			spec := "-" + f.Name + "[" + zshEscape(firstClause(f.Usage)) + "]"
			if !isBool(f) {
				name, _ := flag.UnquoteUsage(f)
				switch kind, words := flagValues(f); kind {
				case "files":
					spec += ":" + name + ":_files -g '*.toml'"
				case "paths":
					spec += ":" + name + ":_files"
				case "words":
					spec += ":" + name + ":(" + strings.Join(words, " ") + ")"
				default:
					spec += ":" + name + ": "
				}
			}
			fmt.Fprintf(w, "\t\t\t%s \\\n", zshQuote(spec))
		}
		if words := argWords(c); words != nil {
			fmt.Fprintf(w, "\t\t\t%s \\\n", zshQuote("1:argument:("+strings.Join(words, " ")+")"))
		}
		fmt.Fprint(w, "\t\t\t'-h[show help]' ;;\n")
	}
	fmt.Fprint(w, "\tesac\n}\n\nif [ \"$funcstack[1]\" = \"_echogate\" ]; then\n\t_echogate \"$@\"\nelse\n"+
		"\tcompdef _echogate echogate\nfi\n")
}

func writeFish(w io.Writer) {
	fmt.Fprint(w, "# fish completion for echogate, written by \"echogate completion fish\".\ncomplete -c echogate -f\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "complete -c echogate -n __fish_use_subcommand -a %s -d %s\n", c.name, fishQuote(c.summary))
	}
	for _, c := range commands() {
		when := fishQuote("__fish_seen_subcommand_from " + c.name)
		for _, f := range flagsOf(c) {
			line := fmt.Sprintf("complete -c echogate -n %s -o %s -d %s", when, f.Name, fishQuote(firstClause(f.Usage)))
			switch kind, words := flagValues(f); {
			case isBool(f):
			case kind == "files" || kind == "paths":
				line += " -r -F"
			case kind == "words":
				line += " -x -a " + fishQuote(strings.Join(words, " "))
			default:
				line += " -x"
			}
			fmt.Fprintln(w, line)
		}
		if words := argWords(c); words != nil {
			fmt.Fprintf(w, "complete -c echogate -n %s -a %s\n", when, fishQuote(strings.Join(words, " ")))
		}
	}
}

// firstClause is a flag's usage up to its first parenthesis or semicolon, without backquotes: a short
// description for zsh and fish.
func firstClause(usage string) string {
	usage = strings.ReplaceAll(usage, "`", "")
	if i := strings.IndexAny(usage, "(;"); i > 0 {
		usage = usage[:i]
	}
	return strings.TrimSpace(usage)
}

// zshQuote quotes s in single quotes for zsh.
func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// zshEscape escapes the brackets and colons of an _arguments description.
func zshEscape(s string) string {
	return strings.NewReplacer("[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

// fishQuote quotes s in single quotes for fish.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
