package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBuildDeb runs build-deb.sh with a small fake binary and fake manual pages and checks the package's
// files, control fields, conffiles, changelog and maintainer scripts.
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
	copyTo(t, dir, "echogate", "#!/bin/sh\necho \"echogate $*\"\n") // prints what build-deb.sh asks it
	if err := os.Chmod(binary, 0o755); err != nil {
		t.Fatal(err)
	}
	man := filepath.Join(dir, "man")
	if err := os.Mkdir(man, 0o755); err != nil {
		t.Fatal(err)
	}
	copyTo(t, man, "echogate.8", ".TH echogate 8\n")
	copyTo(t, man, "echogate.toml.5", ".TH echogate.toml 5\n")
	cmd := exec.Command("./build-deb.sh", "v1.2.3-4", filepath.Join(dir, "out"), binary)
	cmd.Env = append(os.Environ(), "MAN_DIR="+man)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build-deb.sh: %v\n%s", err, out)
	}
	deb := strings.TrimSpace(string(out))
	if want := filepath.Join(dir, "out", "echogate_1.2.3-4_"+strings.TrimSpace(string(arch))+".deb"); deb != want {
		t.Fatalf("build-deb.sh printed %q; want %q", deb, want)
	}

	listing := dpkgDeb(t, "-c", deb)
	for _, p := range append([]string{
		"-rwxr-xr-x root/root ./usr/bin/echogate",
		"-rw-r--r-- root/root ./usr/lib/systemd/system/echogate.service",
		"-rw-r--r-- root/root ./usr/share/doc/echogate/examples/echogate.toml",
		"-rw-r--r-- root/root ./usr/share/doc/echogate/examples/kubernetes/echogate.yaml",
		"-rw-r--r-- root/root ./usr/share/doc/echogate/README.md",
		"-rw-r--r-- root/root ./usr/share/doc/echogate/copyright",
		"-rw-r--r-- root/root ./usr/share/doc/echogate/changelog.Debian.gz",
		"-rw-r--r-- root/root ./usr/share/man/man8/echogate.8.gz",
		"-rw-r--r-- root/root ./usr/share/man/man5/echogate.toml.5.gz",
		"-rw-r--r-- root/root ./etc/echogate/echogate.toml",
	}, socketListing(t)...) {
		if !listed(listing, p) {
			t.Errorf("dpkg-deb -c does not list %q:\n%s", p, listing)
		}
	}
	for field, want := range map[string]string{
		"Package":      "echogate",
		"Version":      "1.2.3-4",
		"Architecture": strings.TrimSpace(string(arch)),
		"Maintainer":   "echogate maintainers <maintainers@echogate.invalid>",
		"Recommends":   "systemd",
	} {
		if got := strings.TrimSpace(dpkgDeb(t, "-f", deb, field)); got != want {
			t.Errorf("dpkg-deb -f %s = %q; want %q", field, got, want)
		}
	}
	if got := dpkgDeb(t, "-I", deb, "conffiles"); got != "/etc/echogate/echogate.toml\n" {
		t.Errorf("conffiles = %q", got)
	}
	if sums := dpkgDeb(t, "-I", deb, "md5sums"); !strings.Contains(sums, "  usr/bin/echogate\n") {
		t.Errorf("md5sums does not list usr/bin/echogate:\n%s", sums)
	}

	root := filepath.Join(dir, "root")
	dpkgDeb(t, "-x", deb, root)
	for path, want := range map[string]string{
		"etc/echogate/echogate.toml":                        readFile(t, packagedConfig),
		"usr/share/doc/echogate/examples/echogate.toml":     readFile(t, "../examples/echogate.toml"),
		"usr/share/doc/echogate/copyright":                  readFile(t, "copyright"),
		"usr/lib/systemd/system/echogate.service":           readFile(t, "echogate.service"),
		"usr/bin/echogate":                                  "#!/bin/sh\necho \"echogate $*\"\n",
		"usr/share/bash-completion/completions/echogate":    "echogate completion bash\n",
		"usr/share/zsh/vendor-completions/_echogate":        "echogate completion zsh\n",
		"usr/share/fish/vendor_completions.d/echogate.fish": "echogate completion fish\n",
	} {
		if got := readFile(t, filepath.Join(root, path)); got != want {
			t.Errorf("/%s differs from its source", path)
		}
	}
	changelog := gunzip(t, filepath.Join(root, "usr/share/doc/echogate/changelog.Debian.gz"))
	if !strings.HasPrefix(changelog, "echogate (1.2.3-4) unstable; urgency=medium\n") ||
		!strings.HasSuffix(changelog, readFile(t, "changelog")) {
		t.Errorf("changelog.Debian.gz is not an entry for 1.2.3-4 over systemd/changelog:\n%s", changelog)
	}
	if got := gunzip(t, filepath.Join(root, "usr/share/man/man8/echogate.8.gz")); got != ".TH echogate 8\n" {
		t.Errorf("echogate.8.gz holds %q", got)
	}
	ctrl := filepath.Join(dir, "control")
	dpkgDeb(t, "-e", deb, ctrl)
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		if out, err := exec.Command("sh", "-n", filepath.Join(ctrl, script)).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", script, err, out)
		}
	}
}

// gunzip returns the content of a gzip file.
func gunzip(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("gzip", "-dc", path).Output()
	if err != nil {
		t.Fatalf("gzip -dc %s: %v", path, err)
	}
	return string(out)
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
