package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nextInside is the copy of the package with a higher version that TestSystemdPackageUpgrade installs last.
const nextInside = "/root/echogate-next.deb"

// TestSystemdPackageUpgrade installs the .deb in a booted Debian container and takes it through its life
// as a package: install (nothing enabled yet), start, reload, the same version installed again, a higher
// version (each time the edited conffile is kept and the running service restarts), and purge.
func TestSystemdPackageUpgrade(t *testing.T) {
	deb := packageUnderTest(t)
	next, nextVersion := higherVersion(t, deb)
	c := bootContainer(t, envOr("ECHOGATE_SYSTEMD_SUITE", defaultSuite),
		"--bind-ro="+deb+":"+debInside, "--bind-ro="+next+":"+nextInside)

	out := c.must(t, "dpkg", "-i", debInside)
	if !strings.Contains(out, "edit /etc/echogate/echogate.toml, then: systemctl enable --now echogate.service") {
		t.Errorf("the first install did not say what to do next:\n%s", out)
	}
	if got := c.unitState(t, "is-enabled", "echogate.service"); got != "disabled" {
		t.Errorf("after install echogate.service is %q; want disabled until the operator enables it", got)
	}
	c.must(t, "systemctl", "enable", "--now", "echogate.service")
	c.expectEcho(t, "tcp", "127.0.0.1:7007")
	c.expectEcho(t, "udp", "127.0.0.1:7007")
	edited := readFile(t, packagedConfig) + probeListener
	c.writeFile(t, configInside, edited)
	c.must(t, "systemctl", "reload", "echogate.service")
	c.expectEcho(t, "tcp", probeAddr)

	for _, step := range []struct{ name, deb, version string }{
		{"the same version again", debInside, strings.TrimSpace(dpkgDeb(t, "-f", deb, "Version"))},
		{"a higher version", nextInside, nextVersion},
	} {
		t.Run(step.name, func(t *testing.T) {
			before := c.invocation(t)
			c.must(t, "dpkg", "-i", step.deb)
			if got := c.must(t, "dpkg-query", "-W", "-f", "${Version} ${db:Status-Status}", "echogate"); got != step.version+" installed" {
				t.Errorf("dpkg-query: %q; want %q", got, step.version+" installed")
			}
			if got := c.must(t, "cat", configInside); got != edited {
				t.Errorf("the upgrade did not keep the edited %s:\n%s", configInside, got)
			}
			if after := c.invocation(t); after == before || c.unitState(t, "is-active", "echogate.service") != "active" {
				t.Errorf("echogate.service was not restarted (invocation %s before, %s after)", before, after)
			}
			c.expectEcho(t, "tcp", probeAddr) // the kept config serves
			c.expectEcho(t, "tcp", "127.0.0.1:7007")
		})
	}

	t.Run("purge", func(t *testing.T) {
		c.must(t, "dpkg", "--purge", "echogate")
		if out, err := c.run(10*time.Second, "dpkg-query", "-W", "echogate"); err == nil ||
			!strings.Contains(out, "no packages found matching echogate") {
			t.Errorf("after purge dpkg-query -W echogate says %q (%v)", out, err)
		}
		if out := c.must(t, "sh", "-c", "ls -d /etc/echogate /usr/bin/echogate 2>&1; "+
			"find /etc/systemd/system -name 'echogate*' | sed 's/^/left: /'"); strings.Contains(out, "left: ") ||
			strings.Count(out, "No such file or directory") != 2 {
			t.Errorf("purge left files behind:\n%s", out)
		}
		if got := c.must(t, "systemctl", "list-units", "--all", "--plain", "--no-legend", "echogate*"); strings.TrimSpace(got) != "" {
			t.Errorf("after purge systemd still knows echogate units:\n%s", got)
		}
	})
	c.powerOff(t)
}

// higherVersion writes a copy of deb whose version is one Debian revision higher and returns its path and
// version.
func higherVersion(t *testing.T, deb string) (path, version string) {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	dpkgDeb(t, "-R", deb, tree)
	control := filepath.Join(tree, "DEBIAN", "control")
	old := strings.TrimSpace(dpkgDeb(t, "-f", deb, "Version"))
	version = old + "+1"
	text := strings.Replace(readFile(t, control), "\nVersion: "+old+"\n", "\nVersion: "+version+"\n", 1)
	if err := os.WriteFile(control, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "echogate-next.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", tree, path).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
	}
	return path, version
}

// unitState is `systemctl VERB UNIT`'s answer (is-active, is-enabled), whatever its exit status.
func (c *container) unitState(t *testing.T, verb, unit string) string {
	t.Helper()
	out, _ := c.run(10*time.Second, "systemctl", verb, unit)
	return strings.TrimSpace(out)
}

// invocation is echogate.service's InvocationID, which changes each time the service starts.
func (c *container) invocation(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(c.must(t, "systemctl", "show", "-p", "InvocationID", "--value", "echogate.service"))
}
