package toolmain

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startEnv makes the test binary call Start as a tool would, with the error it names.
const startEnv = "TOOLMAIN_TEST_START"

func TestMain(m *testing.M) {
	if which, ok := os.LookupEnv(startEnv); ok {
		startAs(which)
	}
	os.Exit(m.Run())
}

// startAs calls Start with the flag error named which; on no error it waits for SIGTERM to end the context.
func startAs(which string) {
	err := map[string]error{"help": flag.ErrHelp, "bad": errors.New("flag provided but not defined: -x")}[which]
	ctx, stop := Start("sometool", err)
	defer stop()
	os.Stdout.WriteString("started\n")
	select {
	case <-ctx.Done():
		os.Exit(3)
	case <-time.After(10 * time.Second):
		os.Exit(4)
	}
}

// TestStart checks Start's exit codes and message: 0 after -h, 2 with the tool's name before a bad flag's
// error; with no error, a context that SIGTERM cancels.
func TestStart(t *testing.T) {
	for _, tc := range []struct {
		name, which, stderr string
		code                int
	}{
		{"-h", "help", "", 0},
		{"bad flag", "bad", "sometool: flag provided but not defined: -x\n", 2},
		{"SIGTERM", "none", "", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), startEnv+"="+tc.which)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 8)
			if n, _ := stdout.Read(buf); string(buf[:n]) == "started\n" {
				_ = cmd.Process.Signal(syscall.SIGTERM)
			}
			err = cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != tc.code || stderr.String() != tc.stderr {
				t.Errorf("exit %d (%v), stderr %q; want exit %d, stderr %q", code, err, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
}
