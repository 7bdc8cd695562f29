package echotest

import (
	"os"
	"os/exec"
	"testing"
)

// InNetns lets a test run in a network namespace of its own (unshare -n), where it may bind the wildcard and
// add addresses: outside one, it re-runs the test binary on just this test in a new namespace, reports the
// run's output and returns false, and the test returns; inside, it returns true. It skips the test where
// unshare is not installed.
func InNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv("ECHOGATE_TEST_NETNS") != "" {
		return true
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not installed")
	}
	cmd := exec.Command("unshare", "-n", os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), "ECHOGATE_TEST_NETNS=1", "ECHOGATE_BIN="+Bin())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in a new network namespace: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	return false
}
