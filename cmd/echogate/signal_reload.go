package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// reloadCommand validates the config and then asks the running daemon to reload it with SIGHUP. The daemon is
// found through [daemon] pid_file (or -pid), so a bad file is reported here and never reaches the daemon.
func reloadCommand(args []string) int {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	path := fs.String("config", "", "TOML config file of the running daemon")
	pid := fs.Int("pid", 0, "PID of the daemon (default: read [daemon] pid_file)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(os.Stderr, "echogate reload: -config FILE is required")
		return 2
	}
	cfg, err := loadConfig(*path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	target := *pid
	if target == 0 {
		if cfg.Daemon.PIDFile == "" {
			fmt.Fprintf(os.Stderr, "echogate reload: %s sets no [daemon] pid_file; give -pid or use systemctl reload\n", *path)
			return 1
		}
		if target, err = readPIDFile(cfg.Daemon.PIDFile); err != nil {
			fmt.Fprintln(os.Stderr, "echogate reload:", err)
			return 1
		}
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", target)); err == nil &&
		!strings.HasPrefix(strings.TrimSpace(string(comm)), "echogate") {
		fmt.Fprintf(os.Stderr, "echogate reload: pid %d is %q, not echogate (a stale pid_file?); not signalling it\n",
			target, strings.TrimSpace(string(comm)))
		return 1
	}
	if err := unix.Kill(target, unix.SIGHUP); err != nil {
		fmt.Fprintf(os.Stderr, "echogate reload: signal pid %d: %v\n", target, err)
		return 1
	}
	fmt.Printf("sent SIGHUP to echogate pid %d\n", target)
	return 0
}
