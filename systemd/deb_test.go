package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBuildDeb runs build-deb.sh with a small fake binary and checks the package's files, control
// fields, conffiles and maintainer scripts.
func TestBuildDeb(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed")
	}
	arch, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	binary := filepath.Join(dir, "echogate")
	copyTo(t, dir, "echogate", "#!/bin/sh\necho echogate\n")
	if err := os.Chmod(binary, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"v1.2.3", filepath.Join(dir, "out"), binary}
	out, err := exec.Command("./build-deb.sh", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("build-deb.sh: %v\n%s", err, out)
	}
	deb := strings.TrimSpace(string(out))
	if want := filepath.Join(dir, "out", "echogate_1.2.3_"+strings.TrimSpace(string(arch))+".deb"); deb != want {
		t.Fatalf("build-deb.sh printed %q; want %q", deb, want)
	}

	listing := dpkgDeb(t, "-c", deb)
	for _, p := range append([]string{
		"-rwxr-xr-x root/root ./usr/bin/echogate",
		"-rw-r--r-- root/root ./usr/lib/systemd/system/echogate.service",
		"-rw-r--r-- root/root ./usr/share/doc/echogate/examples/echogate.toml",
		"-rw-r--r-- root/root ./usr/share/doc/echogate/README.md",
		"-rw-r--r-- root/root ./etc/echogate/echogate.toml",
	}, socketListing(t)...) {
		if !listed(listing, p) {
			t.Errorf("dpkg-deb -c does not list %q:\n%s", p, listing)
		}
	}
	for field, want := range map[string]string{
		"Package":      "echogate",
		"Version":      "1.2.3",
		"Architecture": strings.TrimSpace(string(arch)),
		"Maintainer":   "echogate maintainers <echogate@localhost>",
	} {
		if got := strings.TrimSpace(dpkgDeb(t, "-f", deb, field)); got != want {
			t.Errorf("dpkg-deb -f %s = %q; want %q", field, got, want)
		}
	}
	if got := dpkgDeb(t, "-I", deb, "conffiles"); got != "/etc/echogate/echogate.toml\n" {
		t.Errorf("conffiles = %q", got)
	}

	root := filepath.Join(dir, "root")
	dpkgDeb(t, "-x", deb, root)
	for path, want := range map[string]string{
		"etc/echogate/echogate.toml":                    readFile(t, packagedConfig),
		"usr/share/doc/echogate/examples/echogate.toml": readFile(t, "../examples/echogate.toml"),
		"usr/lib/systemd/system/echogate.service":       readFile(t, "echogate.service"),
		"usr/bin/echogate":                              "#!/bin/sh\necho echogate\n",
	} {
		if got := readFile(t, filepath.Join(root, path)); got != want {
			t.Errorf("/%s differs from its source", path)
		}
	}
	ctrl := filepath.Join(dir, "control")
	dpkgDeb(t, "-e", deb, ctrl)
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		if out, err := exec.Command("sh", "-n", filepath.Join(ctrl, script)).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", script, err, out)
		}
	}
}

// socketListing is the dpkg-deb -c entry of every socket unit.
func socketListing(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, s := range socketUnits(t) {
		out = append(out, "-rw-r--r-- root/root ./usr/lib/systemd/system/"+s)
	}
	return out
}

// listed reports whether a dpkg-deb -c listing has a line with want's mode, owner and path.
func listed(listing, want string) bool {
	w := strings.Fields(want)
	for _, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		if len(f) == 6 && slices.Equal([]string{f[0], f[1], f[5]}, w) {
			return true
		}
	}
	return false
}

func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", args...).Output()
	if err != nil {
		t.Fatalf("dpkg-deb %v: %v", args, err)
	}
	return string(out)
}
