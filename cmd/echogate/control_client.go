package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"echogate/config"
)

// controlDialTimeout bounds the connect to a control socket; the answer has the command's own timeout.
const controlDialTimeout = 5 * time.Second

// daemonTarget is how a client reaches a running daemon.
type daemonTarget struct {
	control string // its control socket; "" when it has none
	pidFile string // its [daemon] pid_file, for the SIGHUP fallback
}

// findDaemon finds the daemon from -control, else from -config's [daemon] control_socket and pid_file
// (with $RUNTIME_DIRECTORY/control.sock as the daemon's default when the key is unset), else from
// $RUNTIME_DIRECTORY alone. Only -config's [daemon] table is read: the daemon decides whether its file is good.
func findDaemon(configPath, control string) (daemonTarget, error) {
	if control != "" {
		return daemonTarget{control: control}, nil
	}
	var paths config.DaemonPaths
	if configPath != "" {
		var err error
		if paths, err = config.ReadDaemonPaths(configPath); err != nil {
			return daemonTarget{}, fmt.Errorf("cannot find the daemon's control socket in %s: %w (give -control PATH)",
				configPath, err)
		}
	} else if os.Getenv("RUNTIME_DIRECTORY") == "" {
		return daemonTarget{}, errors.New("give -control PATH or -config FILE")
	}
	return daemonTarget{control: defaultControlPath(paths.ControlSocket, os.Getenv("RUNTIME_DIRECTORY")),
		pidFile: paths.PIDFile}, nil
}

// askControl sends one command line to the control socket at path and returns the one-line answer (without
// its '\n'). An error means the daemon could not be reached or did not answer within timeout.
func askControl(path, command string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("unix", path, controlDialTimeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	// A daemon that refuses the client answers before reading, and may have closed before the write: its
	// answer is still there to read, so a failed write is reported only when there is none.
	_, werr := c.Write([]byte(command + "\n"))
	line, err := bufio.NewReaderSize(c, 64<<10).ReadString('\n')
	if err != nil && werr != nil {
		return "", fmt.Errorf("send %q: %w", command, werr)
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return "", fmt.Errorf("no answer to %q within %s", command, timeout)
		}
		return "", fmt.Errorf("no answer to %q: %w", command, err)
	}
	return strings.TrimSuffix(line, "\n"), nil
}

// askDaemon sends line to the control socket of the daemon that configPath or control finds (see
// findDaemon) and returns its answer and the socket's path. When there is no such daemon, or no control
// socket, or no answer, it has printed why, as "echogate name: …", and returns exit code 2.
func askDaemon(name, configPath, control, line string, timeout time.Duration) (reply, sock string, code int) {
	target, err := findDaemon(configPath, control)
	if err == nil && target.control == "" {
		err = errors.New("the daemon has no control socket: set [daemon] control_socket (or run it under systemd " +
			"with RuntimeDirectory=), or give -control")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "echogate %s: %v\n", name, err)
		return "", "", 2
	}
	reply, err = askControl(target.control, line, timeout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "echogate %s: cannot reach the daemon at %s: %v\n", name, target.control, err)
		return "", "", 2
	}
	return reply, target.control, 0
}
