// Command echogate serves TCP and UDP echo endpoints declared in a TOML file from one epoll event loop.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...", from the VERSION file (see Makefile).
var version = "dev"

func main() {
	if len(os.Args) < 2 {
		writeUsage(os.Stderr)
		os.Exit(2)
	}
	name, args := os.Args[1], os.Args[2:]
	switch name {
	case "-version", "--version":
		name = "version"
	case "-h", "-help", "--help":
		name = "help"
	}
	c, ok := findCommand(name)
	if !ok {
		fmt.Fprintf(os.Stderr, "echogate: unknown command %q\n\n", name)
		writeUsage(os.Stderr)
		os.Exit(2)
	}
	os.Exit(c.run(args))
}
