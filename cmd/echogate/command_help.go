package main

import "flag"

// The descriptions of the daemon's own commands; each command's flags are declared beside its code.

func runCmd() command {
	return command{
		name: "run", args: "(-config FILE | -listen URL...) [-log-level LEVEL] [-log-format FORMAT]",
		summary: "serve the listeners of -config (or of -listen flags) until stopped",
		about: "Serves every listener of the TOML file from one epoll event loop. The file is watched and hot-reloaded\n" +
			"when a writer is done with it; SIGHUP forces a reload; SIGINT and SIGTERM stop gracefully (exit 0).\n" +
			"Under systemd, sockets passed by socket units are adopted by name. Exits 1 when the config is\n" +
			"invalid or a listener cannot start, 2 for bad flags.",
		examples: []string{
			"echogate run -config /etc/echogate/echogate.toml",
			"echogate run -listen tcp://127.0.0.1:7007 -listen udp://[::1]:7007   # no file: every default",
			"echogate run -config echogate.toml -log-format json -log-level debug",
		},
		flags: func(fs *flag.FlagSet) { runFlags(fs) },
		run:   runCommand,
	}
}

func checkCmd() command {
	return command{
		name: "check", args: "-config FILE [-bind]",
		summary: "validate -config: exit 0 (valid) or 1 (every error printed); -bind also tries each address",
		about: "Validates FILE as run would, tokens included, and prints every error (the first 20) with its\n" +
			"file:line:col, in file order. With -bind it also binds every listener's address with run's socket\n" +
			"options, holding them all at once, and releases them. Exits 0 (valid), 1 (invalid) or 2 (bad flags).",
		examples: []string{
			"echogate check -config /etc/echogate/echogate.toml",
			"echogate check -bind -config echogate.toml   # before starting: ports in use, missing addresses",
		},
		flags: func(fs *flag.FlagSet) { checkFlags(fs) },
		run:   checkCommand,
	}
}

func reloadCmd() command {
	return command{
		name: "reload", args: "[-control PATH | -config FILE | -pid PID] [-timeout D]",
		summary: "ask the running daemon to reload its own config, wait, and report the outcome",
		about: "Asks the running daemon, through its control socket, to reload the file it serves (never -config's\n" +
			"content), waits and prints the outcome. The daemon is found by -control PATH, or -config FILE's\n" +
			"[daemon] control_socket, or $RUNTIME_DIRECTORY/control.sock; without a control socket it gets SIGHUP\n" +
			"(pid_file or -pid), whose outcome cannot be confirmed. Exits 0 when the new config serves, 1 when it\n" +
			"was rejected or applied in part (the error is printed), 2 when no daemon could be asked.",
		examples: []string{
			"echogate reload -config /etc/echogate/echogate.toml",
			"echogate reload -control /run/echogate/control.sock",
		},
		flags: func(fs *flag.FlagSet) { reloadFlags(fs) },
		run:   reloadCommand,
	}
}

func stateCmd() command {
	return command{
		name: "state", args: "[ready | drain | maint] [-control PATH | -config FILE] [-timeout D]",
		summary: "set the daemon's state (health checks and the agent report it); no argument prints it",
		about: "Sets the running daemon's state: ready, drain (health checks and the agent say not ready, but every\n" +
			"listener keeps serving old and new clients) or maint. It lasts until the next change, or until a\n" +
			"reload applies a config whose [daemon] state differs from the previous one. With no argument it\n" +
			"prints the state. The daemon is found as for reload. Exits 0, 1 for a refused state, 2 when no\n" +
			"daemon could be asked.",
		examples: []string{
			"echogate state drain -control /run/echogate/control.sock   # take this host out of the balancer",
			"echogate state ready -config /etc/echogate/echogate.toml",
		},
		flags: func(fs *flag.FlagSet) { stateFlags(fs) },
		run:   stateCommand,
	}
}

func statusCmd() command {
	return command{
		name: "status", args: "[-control PATH | -config FILE] [-json] [-timeout D]",
		summary: "show what the running daemon serves (-json for scripts); found as for reload",
		about: "Prints the running daemon's version, pid, config file and its SHA-256, generation, last reload, and\n" +
			"per listener its bound address, effective settings and counters: a table, or one JSON object with\n" +
			"-json. The daemon is found as for reload. Exits 0, or 2 when no daemon could be asked.",
		examples: []string{
			"echogate status -config /etc/echogate/echogate.toml",
			"echogate status -json | jq '.listeners[].accepted'",
		},
		flags: func(fs *flag.FlagSet) { statusFlags(fs) },
		run:   statusCommand,
	}
}
