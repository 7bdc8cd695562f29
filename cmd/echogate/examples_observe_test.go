package main

import (
	"os/exec"
	"testing"

	"echogate/internal/echotest"
)

// The monitoring examples are valid for the tools that read them: promtool for the scrape config and the
// alert rules (whose unit test fires three of them), haproxy for the agent backend, echogate for the config.
func TestObserveExamples(t *testing.T) {
	t.Parallel()
	if out, errOut, code := echotest.RunCLI(t, "check", "-config", "../../examples/observe.toml"); code != 0 {
		t.Fatalf("echogate check examples/observe.toml: %d %s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		tool string
		args []string
	}{
		{"promtool", []string{"check", "config", "../../examples/prometheus.yml"}},
		{"promtool", []string{"check", "rules", "../../examples/echogate-alerts.yml"}},
		{"promtool", []string{"test", "rules", "testdata/echogate-alerts.test.yml"}},
		{"haproxy", []string{"-c", "-f", "../../examples/haproxy-agent.cfg"}},
	} {
		path, err := exec.LookPath(tc.tool)
		if err != nil {
			t.Skipf("%s is not installed (.ci/run installs it)", tc.tool)
		}
		if out, err := exec.Command(path, tc.args...).CombinedOutput(); err != nil {
			t.Errorf("%s %v: %v\n%s", tc.tool, tc.args, err, out)
		}
	}
}
