// Command echogate serves TCP and UDP echo endpoints declared in a TOML file from one epoll event loop.
package main

import (
	"fmt"
	"os"
)

const usage = `usage: echogate <command> [flags]

commands:
  run     serve the listeners of -config (or of -listen flags) until stopped
  check   validate -config and exit 0 (valid) or 1 (every error printed); -bind also tries each address
  reload  ask the running daemon to reload its own config, wait, and report the outcome:
          exit 0 the new config serves, 1 it was rejected (the error is printed), 2 no daemon reached.
          The daemon is found by -control PATH, or -config FILE's [daemon] control_socket, or
          $RUNTIME_DIRECTORY/control.sock; without a control socket it gets SIGHUP (pid_file, -pid)
  status  show what the running daemon serves (-json for scripts); found as for reload
  state   ready|drain|maint: set the daemon's state (health checks and the agent say it); no argument
          prints it. Found as for reload
  version print the version

Run 'echogate <command> -h' for a command's flags.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	args := os.Args[2:]
	var code int
	switch os.Args[1] {
	case "run":
		code = runCommand(args)
	case "check":
		code = checkCommand(args)
	case "reload":
		code = reloadCommand(args)
	case "status":
		code = statusCommand(args)
	case "state":
		code = stateCommand(args)
	case "version", "-version", "--version":
		fmt.Println("echogate", version)
	case "help", "-h", "-help", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "echogate: unknown command %q\n\n%s", os.Args[1], usage)
		code = 2
	}
	os.Exit(code)
}
