package main

import (
	"flag"
	"fmt"
	"os"

	"echogate/config"
)

func configCmd() command {
	return command{
		name: "config", args: "-config FILE",
		summary: "print the effective config of FILE as TOML: every default filled in, each value's source",
		about: "Prints FILE as echogate sees it: every key of [daemon] and of each listener's protocol, with the\n" +
			"defaults filled in and a comment after each value naming where it comes from (file or default).\n" +
			"The output is itself a valid config that decodes to the same settings. Tokens are never printed\n" +
			"(nor read): token_credential and token_file say where they come from. Exits 0, 1 when FILE is\n" +
			"invalid (every error printed, as by check), 2 for bad flags.",
		examples: []string{
			"echogate config -config /etc/echogate/echogate.toml",
			"echogate config -config echogate.toml | grep -v '# default$'   # what the file sets",
		},
		flags: func(fs *flag.FlagSet) { configFlags(fs) },
		run:   configCommand,
	}
}

// configFlags declares the flags of `echogate config` on fs.
func configFlags(fs *flag.FlagSet) (path *string) {
	return fs.String("config", "", "TOML config `FILE` to print")
}

// configCommand prints the effective config of a file. It does not read tokens, which may be readable only
// by the daemon.
func configCommand(args []string) int {
	fs := newFlagSet("config")
	path := configFlags(fs)
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if *path == "" {
		fmt.Fprintln(os.Stderr, "echogate config: -config FILE is required")
		return 2
	}
	data, err := config.Read(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg, err := config.Decode(*path, data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Print(config.Effective(cfg))
	return 0
}
