package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// socketUnits are the example socket units shipped beside echogate.service.
var socketUnits = []string{"echogate-echo-tcp.socket", "echogate-echo-udp.socket", "echogate-admin.socket"}

// notifyReloadWarning is what systemd before 253 says about Type=notify-reload.
const notifyReloadWarning = "Failed to parse service type, ignoring: notify-reload"

// TestUnitsVerify runs systemd-analyze verify on copies of both service variants and the socket
// units, with ExecStart pointing at an existing binary, and fails on any message about them.
func TestUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	trueBin, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	version := systemdVersion(t, analyze)
	for _, service := range []string{"echogate.service", "legacy/echogate.service"} {
		t.Run(service, func(t *testing.T) {
			dir := t.TempDir()
			unit := readFile(t, service)
			copyTo(t, dir, "echogate.service", strings.ReplaceAll(unit, "/usr/bin/echogate ", trueBin+" "))
			args := []string{"verify", "--man=no", filepath.Join(dir, "echogate.service")}
			for _, s := range socketUnits {
				copyTo(t, dir, s, readFile(t, s))
				args = append(args, filepath.Join(dir, s))
			}
			cmd := exec.Command(analyze, args...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			var problems []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if line == "" || !aboutUnits(line, dir) {
					continue
				}
				if version < 253 && service == "echogate.service" && strings.Contains(line, notifyReloadWarning) {
					continue // expected: this variant is for systemd >= 253
				}
				problems = append(problems, line)
			}
			if err != nil || len(problems) > 0 {
				t.Errorf("systemd-analyze verify (systemd %d): %v\n%s", version, err, strings.Join(problems, "\n"))
			}
		})
	}
}

// aboutUnits reports whether a systemd-analyze message concerns echogate's units.
func aboutUnits(line, dir string) bool {
	return strings.Contains(line, dir) || strings.Contains(line, "echogate")
}

// systemdVersion returns the major version systemd-analyze reports ("systemd 252 (252.38-1~deb12u1)").
func systemdVersion(t *testing.T, analyze string) int {
	t.Helper()
	out, err := exec.Command(analyze, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^systemd (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze --version: %q", out)
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// TestUnitsAgree checks that the unit files tell one story: the service lists every socket unit, each
// socket names the service and a listener of examples/echogate.toml, and the two service variants
// differ only in how reload is signalled.
func TestUnitsAgree(t *testing.T) {
	modern, legacy := unitKeys(t, "echogate.service"), unitKeys(t, "legacy/echogate.service")
	if got := strings.Fields(modern["Sockets"][0]); !slices.Equal(got, socketUnits) {
		t.Errorf("Sockets= %v; want %v", got, socketUnits)
	}
	if modern["Type"][0] != "notify-reload" || legacy["Type"][0] != "notify" ||
		len(legacy["ExecReload"]) != 1 || legacy["ExecReload"][0] != "/bin/kill -HUP $MAINPID" {
		t.Errorf("Type= %v / %v, legacy ExecReload= %v", modern["Type"], legacy["Type"], legacy["ExecReload"])
	}
	delete(modern, "Type")
	delete(legacy, "Type")
	delete(legacy, "ExecReload")
	for k, v := range modern {
		if !slices.Equal(v, legacy[k]) {
			t.Errorf("%s= differs: %v in echogate.service, %v in legacy/echogate.service", k, v, legacy[k])
		}
	}
	for k, v := range legacy {
		if _, ok := modern[k]; !ok {
			t.Errorf("%s=%v only in legacy/echogate.service", k, v)
		}
	}
	example, err := os.ReadFile("../examples/echogate.toml")
	if err != nil {
		t.Logf("no example config to compare names with: %v", err)
	}
	for _, s := range socketUnits {
		keys := unitKeys(t, s)
		name := keys["FileDescriptorName"][0]
		if keys["Service"][0] != "echogate.service" || "echogate-"+name+".socket" != s {
			t.Errorf("%s: Service=%v FileDescriptorName=%s", s, keys["Service"], name)
		}
		if example != nil && !regexp.MustCompile(`(?m)^\s*name\s*=\s*"`+regexp.QuoteMeta(name)+`"`).Match(example) {
			t.Errorf("%s: no listener named %q in examples/echogate.toml", s, name)
		}
	}
}

// unitKeys reads a unit file into key -> values, ignoring sections and comments.
func unitKeys(t *testing.T, name string) map[string][]string {
	t.Helper()
	keys := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, name)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "[") {
			keys[k] = append(keys[k], v)
		}
	}
	return keys
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func copyTo(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
