package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
)

// The exit codes of `echogate reload`.
const (
	reloadServes      = 0 // the new config serves (or, without a control socket, SIGHUP was sent)
	reloadRejected    = 1 // the daemon rejected the config, or applied it only in part; the error is printed
	reloadUnreachable = 2 // the daemon could not be reached or asked
)

// reloadCommand asks the running daemon to reload its own config file and reports the outcome. It talks to
// the daemon's control socket and waits for the reload; a daemon without one gets SIGHUP, whose outcome
// cannot be known here.
func reloadCommand(args []string) int {
	fs := newFlagSet("reload")
	path, control, pid, timeout := reloadFlags(fs)
	if code, stop := parseFlags(fs, args); stop {
		return code // 0 for -h; 2, reloadUnreachable, for a bad flag
	}
	target := daemonTarget{}
	if *pid == 0 || *path != "" || *control != "" {
		var err error
		if target, err = findDaemon(*path, *control); err != nil {
			fmt.Fprintln(os.Stderr, "echogate reload:", err)
			return reloadUnreachable
		}
	}
	if target.control != "" {
		return reloadViaControl(target.control, *timeout)
	}
	return reloadViaSignal(target.pidFile, *pid)
}

// reloadFlags declares the flags of `echogate reload` on fs.
func reloadFlags(fs *flag.FlagSet) (path, control *string, pid *int, timeout *time.Duration) {
	path = fs.String("config", "", "the daemon's config `FILE`: its [daemon] control_socket (or pid_file) finds the daemon")
	control = fs.String("control", "", "the daemon's control socket `PATH` (default: from -config, or $RUNTIME_DIRECTORY/control.sock)")
	pid = fs.Int("pid", 0, "`PID` of a daemon without a control socket, to send SIGHUP (default: [daemon] pid_file)")
	timeout = fs.Duration("timeout", 90*time.Second, "how long to wait for the reload to finish")
	return path, control, pid, timeout
}

// reloadViaControl asks for the reload on the control socket and prints the daemon's answer.
func reloadViaControl(path string, timeout time.Duration) int {
	reply, err := askControl(path, "reload", timeout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "echogate reload: cannot reach the daemon at %s: %v\n", path, err)
		return reloadUnreachable
	}
	code := reloadExit(reply)
	if code == reloadServes {
		fmt.Println(reply)
	} else {
		fmt.Fprintln(os.Stderr, reply)
	}
	return code
}

// reloadExit maps the control socket's answer to the exit code: ok serves; error (rejected) and partial (a
// listener did not start) are 1; denied, busy or anything else means the daemon was not asked.
func reloadExit(reply string) int {
	word, _, _ := strings.Cut(reply, " ")
	switch word {
	case "ok":
		return reloadServes
	case "error", "partial":
		return reloadRejected
	}
	return reloadUnreachable
}

// reloadViaSignal is the fallback for a daemon without a control socket: it checks the file the daemon
// itself serves (found in /proc/PID/cmdline, not from -config), sends SIGHUP, and says that it cannot confirm
// the outcome.
func reloadViaSignal(pidFile string, pid int) int {
	if pid == 0 {
		if pidFile == "" {
			fmt.Fprintln(os.Stderr, "echogate reload: the daemon has no control socket and no pid_file: set [daemon] "+
				"control_socket (or run it under systemd with RuntimeDirectory=), or give -pid")
			return reloadUnreachable
		}
		var err error
		if pid, err = readPIDFile(pidFile); err != nil {
			fmt.Fprintln(os.Stderr, "echogate reload:", err)
			return reloadUnreachable
		}
	}
	cfgPath, err := daemonConfigPath(pid)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echogate reload:", err)
		return reloadUnreachable
	}
	if cfgPath == "" {
		fmt.Fprintf(os.Stderr, "echogate reload: pid %d serves -listen flags: nothing to reload\n", pid)
		return reloadRejected
	}
	if err := checkFile(cfgPath); err != nil {
		fmt.Fprintln(os.Stderr, oneLine(err.Error()))
		fmt.Fprintf(os.Stderr, "echogate reload: the daemon's file is invalid; not signalling pid %d\n", pid)
		return reloadRejected
	}
	if err := unix.Kill(pid, unix.SIGHUP); err != nil {
		fmt.Fprintf(os.Stderr, "echogate reload: signal pid %d: %v\n", pid, err)
		return reloadUnreachable
	}
	fmt.Printf("sent SIGHUP to echogate pid %d to reload %s; it has no control socket, so the outcome cannot "+
		"be confirmed here: see its log\n", pid, cfgPath)
	return reloadServes
}

// checkFile decodes and validates the file without reading its tokens: they come from the daemon's
// credentials, which this process may not have.
func checkFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: read config: %w", path, err)
	}
	_, err = config.Decode(path, data)
	return err
}

// daemonConfigPath reads the -config argument of the echogate process pid from /proc/PID/cmdline, made
// absolute against its working directory; "" when it serves -listen flags. A PID that is not `echogate run`
// (a stale pid_file after a crash, whose PID now belongs to something else) is an error.
func daemonConfigPath(pid int) (string, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "", fmt.Errorf("pid %d: %w (a stale pid_file?)", pid, err)
	}
	argv := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	if !isEchogateRun(pid, argv) {
		return "", fmt.Errorf("pid %d is %q, not echogate run (a stale pid_file?); not signalling it",
			pid, strings.Join(argv, " "))
	}
	path := flagValue(argv[2:], "config")
	if path == "" || filepath.IsAbs(path) {
		return path, nil
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return "", fmt.Errorf("pid %d: working directory for its relative -config %s: %w", pid, path, err)
	}
	return filepath.Join(cwd, path), nil
}

// isEchogateRun tells whether argv is an `echogate run`: the program's name contains "echogate" (or it is
// this very executable) and its command is run.
func isEchogateRun(pid int, argv []string) bool {
	if len(argv) < 2 || argv[1] != "run" {
		return false
	}
	if strings.Contains(filepath.Base(argv[0]), "echogate") {
		return true
	}
	theirs, err1 := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
	ours, err2 := os.Stat("/proc/self/exe")
	return err1 == nil && err2 == nil && os.SameFile(theirs, ours)
}

// flagValue finds -name or --name, as "-name value" or "-name=value", in the arguments of `echogate run` as
// the flag package reads them (up to the first non-flag argument or "--"). Every flag of run takes a value.
func flagValue(args []string, name string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			return ""
		}
		key, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasVal {
			i++ // the value is the next argument
			if i < len(args) {
				val = args[i]
			}
		}
		if key == name {
			return val
		}
	}
	return ""
}
