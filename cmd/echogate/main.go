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
  reload  validate -config, then send SIGHUP to the daemon named by [daemon] pid_file
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
