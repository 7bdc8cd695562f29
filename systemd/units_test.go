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

	"echogate/config"
)

// The service's reload command: it waits for the daemon's verdict on its control socket.
const execReload = "/usr/bin/echogate reload -control ${RUNTIME_DIRECTORY}/control.sock"

// maxExposure is `systemd-analyze security`'s overall exposure of echogate.service, in tenths: 1.1 when
// the units were last hardened. It may go down, never up.
const maxExposure = 11

// The README's recipe for a socket-activated listener: a socket unit naming the service, and a drop-in that
// adds it to the service's Sockets=. TestUnitsVerify checks it with systemd-analyze, TestSystemdPackage under
// a real systemd.
const (
	adminSocket = `[Unit]
Description=echogate admin listener (TCP 127.0.0.1:7070)

[Socket]
ListenStream=127.0.0.1:7070
FileDescriptorName=admin
Service=echogate.service
`
	adminDropIn = "[Service]\nSockets=echogate-admin.socket\n"
)

// socketUnits returns the socket units shipped beside echogate.service, sorted.
func socketUnits(t *testing.T) []string {
	t.Helper()
	units, err := filepath.Glob("echogate-*.socket")
	if err != nil || len(units) == 0 {
		t.Fatalf("no echogate-*.socket units: %v", err)
	}
	return units
}

// TestUnitsVerify runs systemd-analyze verify on copies of the units, with ExecStart and ExecReload pointing
// at an existing binary, and fails on any message about them: first the shipped units, then with the
// README's recipe for a socket-activated listener added (a socket unit and a drop-in).
func TestUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	for _, tc := range []struct {
		name  string
		extra map[string]string // more files, relative to the unit directory
	}{
		{"shipped units", nil},
		{"drop-in recipe", map[string]string{"echogate-admin.socket": adminSocket, "echogate.service.d/admin.conf": adminDropIn}},
	} {
		t.Run(tc.name, func(t *testing.T) { verifyUnits(t, analyze, stageUnits(t, tc.extra)) })
	}
}

// verifyUnits runs systemd-analyze verify on echogate.service and the socket units staged in dir and fails
// on any message about them.
func verifyUnits(t *testing.T, analyze, dir string) {
	t.Helper()
	units, _ := filepath.Glob(filepath.Join(dir, "echogate-*.socket"))
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no", filepath.Join(dir, "echogate.service")}, units...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var problems []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && (strings.Contains(line, dir) || strings.Contains(line, "echogate")) {
			problems = append(problems, line)
		}
	}
	if err != nil || len(problems) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, strings.Join(problems, "\n"))
	}
}

// TestUnitsSecurity checks that `systemd-analyze security` rates echogate.service no worse than maxExposure.
func TestUnitsSecurity(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := stageUnits(t, nil)
	cmd := exec.Command(analyze, "security", "--offline=true", "--no-pager", "--threshold="+strconv.Itoa(maxExposure),
		filepath.Join(dir, "echogate.service"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for echogate.service: (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Skipf("systemd-analyze security --offline is not supported here: %v\n%s", err, out)
	}
	if err != nil {
		t.Errorf("exposure %s is above %d.%d: %v", m[1], maxExposure/10, maxExposure%10, err)
	}
	t.Logf("overall exposure %s", m[1])
}

// stageUnits copies the units into a temporary directory with the echogate binary replaced by true(1), plus
// extra files, and returns the directory.
func stageUnits(t *testing.T, extra map[string]string) string {
	t.Helper()
	trueBin, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyTo(t, dir, "echogate.service", strings.ReplaceAll(readFile(t, "echogate.service"), "/usr/bin/echogate ", trueBin+" "))
	for _, s := range socketUnits(t) {
		copyTo(t, dir, s, readFile(t, s))
	}
	for name, content := range extra {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		copyTo(t, dir, name, content)
	}
	return dir
}

// TestUnitsAgree checks that the units and the packaged config tell one story: the service waits for the
// reload's outcome, lists every socket unit, and each socket unit names the service and one listener of
// the packaged config, with the same protocol and address, one to one.
func TestUnitsAgree(t *testing.T) {
	svc := unitKeys(t, "echogate.service")
	for key, want := range map[string][]string{
		"Type":             {"notify"},
		"ExecReload":       {execReload},
		"RuntimeDirectory": {"echogate"},
		"ExecStart":        {"/usr/bin/echogate run -config /etc/echogate/echogate.toml"},
	} {
		if !slices.Equal(svc[key], want) {
			t.Errorf("echogate.service: %s=%q; want %q", key, svc[key], want)
		}
	}
	sockets := socketUnits(t)
	for _, key := range []string{"Sockets", "Also"} {
		if got := strings.Fields(strings.Join(svc[key], " ")); !slices.Equal(sorted(got), sockets) {
			t.Errorf("echogate.service: %s= %v; want the socket units %v", key, got, sockets)
		}
	}
	cfg, err := config.Load(mustAbs(t, packagedConfig))
	if err != nil {
		t.Fatal(err)
	}
	unmatched := map[string]config.Listener{}
	for _, l := range cfg.Listeners {
		unmatched[l.Name] = l
	}
	for _, s := range sockets {
		keys := unitKeys(t, s)
		name := first(keys["FileDescriptorName"])
		l, ok := unmatched[name]
		delete(unmatched, name)
		proto, addr := "tcp", first(keys["ListenStream"])
		if addr == "" {
			proto, addr = "udp", first(keys["ListenDatagram"])
		}
		switch {
		case first(keys["Service"]) != "echogate.service" || "echogate-"+name+".socket" != s:
			t.Errorf("%s: Service=%v FileDescriptorName=%s", s, keys["Service"], name)
		case !ok:
			t.Errorf("%s: no listener named %q in %s", s, name, packagedConfig)
		case string(l.Protocol) != proto || l.Address != addr:
			t.Errorf("%s: %s %s; listener %q in %s is %s %s", s, proto, addr, name, packagedConfig, l.Protocol, l.Address)
		case proto == "tcp" && first(keys["Backlog"]) != strconv.Itoa(l.Backlog):
			t.Errorf("%s: Backlog=%v; listener %q has backlog %d", s, keys["Backlog"], name, l.Backlog)
		}
	}
	for name := range unmatched {
		t.Errorf("listener %q of %s has no socket unit echogate-%s.socket", name, packagedConfig, name)
	}
}

// TestReadmeRecipe checks that the README shows the recipe these tests verify, word for word.
func TestReadmeRecipe(t *testing.T) {
	readme := readFile(t, "../README.md")
	for _, part := range []string{adminSocket, strings.ReplaceAll(adminDropIn, "\n", `\n`)} {
		if !strings.Contains(readme, part) {
			t.Errorf("README.md does not show the recipe's\n%s", part)
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

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func mustAbs(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
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
