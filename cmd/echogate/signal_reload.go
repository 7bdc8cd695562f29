package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("pid_file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid_file %s: no valid PID in it", path)
	}
	return pid, nil
}

// writePIDFile records our PID for `echogate reload`; removePIDFile undoes it at exit.
func writePIDFile(path string) error {
	if path == "" {
		return nil
	}
	return os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

func removePIDFile(path string) {
	if path != "" {
		os.Remove(path)
	}
}
