package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// debRevision is the Debian revision `make deb` adds to the VERSION file's version.
const debRevision = "-1"

// version is the one version of echogate: the VERSION file.
func version(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(readFile(t, "../VERSION"))
}

// buildRealDeb builds the package as `make deb` does, from this tree: the static binary, the manual pages
// and build-deb.sh. It returns the .deb's path; ECHOGATE_DEB, when set, names one already built instead.
func buildRealDeb(t *testing.T) string {
	t.Helper()
	if deb := os.Getenv("ECHOGATE_DEB"); deb != "" {
		return deb
	}
	dir := t.TempDir()
	v := version(t)
	for _, args := range [][]string{
		{"build", "-trimpath", "-ldflags", "-s -w -X main.version=" + v, "-o", filepath.Join(dir, "echogate"), "../cmd/echogate"},
		{"run", "../internal/man/mangen", "-o", filepath.Join(dir, "man"), "-version", v},
	} {
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	cmd := exec.Command("./build-deb.sh", v+debRevision, filepath.Join(dir, "dist"), filepath.Join(dir, "echogate"))
	cmd.Env = append(os.Environ(), "MAN_DIR="+filepath.Join(dir, "man"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build-deb.sh: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestLintian runs lintian, Debian's package checker, on the package built from this tree and fails on any
// error or warning it reports. Its output is logged (go test -v shows it). Then it checks that the package
// has one version throughout.
func TestLintian(t *testing.T) {
	lintian, err := exec.LookPath("lintian")
	if err != nil {
		t.Skip("lintian not installed (.ci/run installs it)")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed")
	}
	deb := buildRealDeb(t)
	out, err := exec.Command(lintian, "--tag-display-limit", "0", "--display-info", "--fail-on", "error,warning", deb).CombinedOutput()
	t.Logf("lintian %s:\n%s", filepath.Base(deb), out)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			t.Errorf("lintian: %s", line)
		}
	}
	if err != nil {
		t.Errorf("lintian: %v", err)
	}
	if os.Getenv("ECHOGATE_DEB") == "" {
		t.Run("one version", func(t *testing.T) { checkOneVersion(t, deb) })
	}
}

// checkOneVersion checks that the package built from this tree carries the VERSION file's version in its
// file name, its Version field and its changelog, that its binary reports the same, and that the README
// names the file.
func checkOneVersion(t *testing.T, deb string) {
	v := version(t)
	if !strings.HasPrefix(filepath.Base(deb), "echogate_"+v+debRevision+"_") {
		t.Errorf("the package is %s; want echogate_%s%s_ARCH.deb", filepath.Base(deb), v, debRevision)
	}
	if got := strings.TrimSpace(dpkgDeb(t, "-f", deb, "Version")); got != v+debRevision {
		t.Errorf("Version: %s; want %s%s", got, v, debRevision)
	}
	if first, _, _ := strings.Cut(readFile(t, "changelog"), "\n"); !strings.HasPrefix(first, "echogate ("+v+debRevision+") ") {
		t.Errorf("systemd/changelog's latest entry is %q; want one for %s%s", first, v, debRevision)
	}
	root := t.TempDir()
	dpkgDeb(t, "-x", deb, root)
	out, err := exec.Command(filepath.Join(root, "usr/bin/echogate"), "version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "echogate "+v {
		t.Errorf("echogate version printed %q (%v); want \"echogate %s\"", out, err, v)
	}
	if readme := readFile(t, "../README.md"); !strings.Contains(readme, "dist/echogate_"+v+debRevision+"_amd64.deb") {
		t.Errorf("README.md does not name the package make deb builds, dist/echogate_%s%s_amd64.deb", v, debRevision)
	}
}
