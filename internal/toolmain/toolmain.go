// Package toolmain is how echogate's command-line tools (echoload, stampsend, echobench) begin: one meaning
// for their flag errors, exit codes and stop signals.
package toolmain

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Start takes the error of parsing the flags of the tool called name. It ends the program when there is
// one: exit 0 after -h (the flag package has printed the usage), 2 after printing err. Otherwise it returns
// a context that SIGINT or SIGTERM cancels; stop lets the signals act as before.
func Start(name string, err error) (ctx context.Context, stop context.CancelFunc) {
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(2)
	}
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
