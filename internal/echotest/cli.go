package echotest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Result is what one run of the command line printed and how it exited.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// CLI adjusts a RunCLI: extra environment and, when Cred is set, another user to run as.
type CLI struct {
	Env  []string
	Cred *syscall.Credential
}

// RunCLI runs the binary with args (such as "reload", "status -json", "check") within 20 s and returns its
// output and exit status. No credentials or runtime directory of the test's environment leak into it.
func RunCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	r := CLI{}.Run(t, args...)
	return r.Stdout, r.Stderr, r.Code
}

// RunCLIWith is RunCLI with extra environment and, when cred is set, as another user.
func RunCLIWith(t *testing.T, env []string, cred *syscall.Credential, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	r := CLI{Env: env, Cred: cred}.Run(t, args...)
	return r.Stdout, r.Stderr, r.Code
}

// Run runs the binary with args as c says.
func (c CLI) Run(t *testing.T, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, Bin(), args...)
	cmd.Env = append(append(os.Environ(), "CREDENTIALS_DIRECTORY=", "RUNTIME_DIRECTORY=",
		"GORACE=atexit_sleep_ms=0"), c.Env...)
	if c.Cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.Cred}
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := ExitCode(err)
	if code < 0 {
		t.Fatalf("echogate %v: %v\n%s%s", args, err, out.String(), errOut.String())
	}
	return Result{out.String(), errOut.String(), code}
}

// ExitCode is the exit status an exec error stands for: 0 for nil, -1 when the process did not exit on its
// own (it could not start, or a signal ended it).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
