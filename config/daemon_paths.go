package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// DaemonPaths are the [daemon] keys a client needs to find a running daemon.
type DaemonPaths struct {
	PIDFile       string `toml:"pid_file"`
	ControlSocket string `toml:"control_socket"`
}

// ReadDaemonPaths reads only [daemon] pid_file and control_socket from the file at path. The rest of the
// file is not validated: a client must find the daemon even while its file is being edited, and the daemon,
// not the client, decides whether a file is good. A TOML syntax error after the [daemon] table is passed
// over (the lines before it are read); one before it, or inside it, is the error.
func ReadDaemonPaths(path string) (DaemonPaths, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return DaemonPaths{}, &Error{File: path, Msg: fmt.Sprintf("read config: %v", unwrapPath(err))}
	}
	text := string(data)
	paths, err := decodeDaemonPaths(text)
	if err == nil {
		return paths, nil
	}
	e := syntaxError(path, text, err)
	if e.Line > 1 {
		lines := strings.SplitAfter(text, "\n")
		if before, err := decodeDaemonPaths(strings.Join(lines[:e.Line-1], "")); err == nil && before != (DaemonPaths{}) {
			return before, nil
		}
	}
	return DaemonPaths{}, e
}

func decodeDaemonPaths(text string) (DaemonPaths, error) {
	var raw struct {
		Daemon DaemonPaths `toml:"daemon"`
	}
	_, err := toml.Decode(text, &raw)
	return raw.Daemon, err
}
