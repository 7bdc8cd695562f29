// Command echoload is a closed-loop load generator and diagnostic client for echogate and any line echo
// server: it verifies every echoed byte and prints one JSON line of throughput, latency and errors.
package main

import (
	"os"

	"echogate/internal/toolmain"
)

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	ctx, stop := toolmain.Start("echoload", err)
	code := run(ctx, o, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
