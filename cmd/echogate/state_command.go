package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"echogate/config"
)

// stateCommand is `echogate state [ready|drain|maint]`: it sets the running daemon's state through its
// control socket, or prints it when no state is given. Exit 0 on "ok", 1 on an error answer or a bad
// argument, 2 when the daemon cannot be reached.
func stateCommand(args []string) int {
	fs := newFlagSet("state")
	path, control, timeout := stateFlags(fs)
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	cmd := "state"
	switch fs.NArg() {
	case 0:
	case 1:
		if !slices.Contains(config.States, fs.Arg(0)) {
			fmt.Fprintf(os.Stderr, "echogate state: unknown state %q (want %s)\n", fs.Arg(0), strings.Join(config.States, ", "))
			return 1
		}
		cmd += " " + fs.Arg(0)
	default:
		fmt.Fprintln(os.Stderr, "echogate state: one state at most: ready, drain or maint")
		return 1
	}
	reply, _, code := askDaemon("state", *path, *control, cmd, *timeout)
	if code != 0 {
		return code
	}
	if code := reloadExit(reply); code != 0 {
		fmt.Fprintln(os.Stderr, reply)
		return code
	}
	fmt.Println(reply)
	return 0
}

// stateFlags declares the flags of echogate state on fs.
func stateFlags(fs *flag.FlagSet) (path, control *string, timeout *time.Duration) {
	path = fs.String("config", "", "the daemon's config `FILE`: its [daemon] control_socket finds the daemon")
	control = fs.String("control", "", "the daemon's control socket `PATH` (default: from -config, or $RUNTIME_DIRECTORY/control.sock)")
	timeout = fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	return path, control, timeout
}
