// Package echotest is the harness of echogate's integration tests: it runs the real binary, dials its
// listeners, sends and expects with deadlines, reads `/stats json` into the daemon's own snapshot type, runs
// the command line, rewrites the config the ways editors and orchestrators do, waits for log lines and reads
// the daemon's /proc figures. Every helper fails the test it is given; none of them sleeps for a result it can
// wait for.
package echotest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binDir  string // set when Bin built the binary itself
	binErr  error
)

// Bin returns the echogate binary under test: $ECHOGATE_BIN, or one built with -race into a temporary
// directory the first time it is asked for (Main removes it).
func Bin() string {
	binOnce.Do(func() {
		if binPath = os.Getenv("ECHOGATE_BIN"); binPath != "" {
			return
		}
		if binDir, binErr = os.MkdirTemp("", "echogate-bin"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "echogate") // a test checks the process name
		out, err := exec.Command("go", "build", "-race", "-o", binPath, "echogate/cmd/echogate").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("building echogate: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		fmt.Fprintln(os.Stderr, binErr)
		os.Exit(1)
	}
	return binPath
}

// Main is a TestMain: it resolves the binary first, runs the tests and removes a binary Bin built.
func Main(m *testing.M) {
	Bin()
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}
