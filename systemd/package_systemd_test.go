package systemd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The .deb under a real systemd: make test-systemd builds the package and runs TestSystemdPackage with
// ECHOGATE_SYSTEMD_TEST=1 and ECHOGATE_DEB set. ECHOGATE_SYSTEMD_SUITE=trixie runs it on Debian 13
// (systemd 257) instead of Debian 12 (systemd 252).
const (
	debInside    = "/root/echogate.deb"
	configInside = "/etc/echogate/echogate.toml"
	probeAddr    = "127.0.0.1:7010" // a listener the good config adds, bound by the daemon itself
	adminAddr    = "127.0.0.1:7070" // the socket-activated listener the README's recipe adds
)

// probeListener is the listener the good config adds; brokenListener would move it, but has a typo.
const (
	probeListener  = "\n[[listener]]\nname = \"probe\"\nprotocol = \"tcp\"\naddress = \"" + probeAddr + "\"\n"
	brokenListener = "\n[[listener]]\nname = \"probe\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:7011\"\nmax_con = 10\n"
	adminListener  = "\n[[listener]]\nname = \"admin\"\nprotocol = \"tcp\"\naddress = \"" + adminAddr + "\"\nmax_conns = 16\n"
)

// packageUnderTest is the absolute path of the .deb that ECHOGATE_DEB names, for a test that boots a
// container: it skips the test unless ECHOGATE_SYSTEMD_TEST=1 (make test-systemd sets both).
func packageUnderTest(t *testing.T) string {
	t.Helper()
	if os.Getenv("ECHOGATE_SYSTEMD_TEST") != "1" {
		t.Skip("boots a Debian container with systemd-nspawn: run `make test-systemd` (sets ECHOGATE_SYSTEMD_TEST=1)")
	}
	deb, err := filepath.Abs(os.Getenv("ECHOGATE_DEB"))
	if err != nil || os.Getenv("ECHOGATE_DEB") == "" {
		t.Fatal("ECHOGATE_DEB must name the .deb to test (make test-systemd sets it)")
	}
	if _, err := os.Stat(deb); err != nil {
		t.Fatal(err)
	}
	return deb
}

// TestSystemdPackage installs the .deb in a booted Debian container and runs the service as an operator
// would: enable, echo over the packaged listeners, reload a good and a broken config, add a socket-activated
// listener, stop, and power off.
func TestSystemdPackage(t *testing.T) {
	deb := packageUnderTest(t)
	c := bootContainer(t, envOr("ECHOGATE_SYSTEMD_SUITE", defaultSuite), "--bind-ro="+deb+":"+debInside)
	t.Log(strings.TrimSpace(c.must(t, "systemctl", "--version")))
	c.must(t, "dpkg", "-i", debInside)
	packaged := c.must(t, "cat", configInside)
	if packaged != readFile(t, packagedConfig) {
		t.Fatalf("%s is not the packaged default systemd/%s", configInside, packagedConfig)
	}
	c.must(t, "systemctl", "enable", "--now", "echogate.service")
	c.expectJournal(t, "", "adopting socket from systemd listener=echo-tcp")
	c.expectJournal(t, "", "adopting socket from systemd listener=echo-udp")
	c.expectEcho(t, "tcp", "127.0.0.1:7007")
	c.expectEcho(t, "udp", "127.0.0.1:7007")

	controlled := c.reloadWaits(t)
	t.Run("good config: systemctl reload applies it", func(t *testing.T) {
		c.writeFile(t, configInside, packaged+probeListener)
		if controlled {
			c.must(t, "systemctl", "reload", "echogate.service")
		} else {
			t.Log("echogate reload has no -control flag yet: checking that the watcher applied the file instead")
		}
		c.expectEcho(t, "tcp", probeAddr)
	})
	t.Run("broken config: systemctl reload fails, the old config serves", func(t *testing.T) {
		if !controlled {
			t.Skip("`echogate reload -h` lists no -control: ExecReload= cannot report a rejected config with this binary")
		}
		c.reloadRejected(t, packaged+brokenListener)
		c.expectEcho(t, "tcp", probeAddr)
		c.writeFile(t, configInside, packaged+probeListener)
	})
	t.Run("socket-activated listener added by a drop-in", func(t *testing.T) {
		c.addSocketListener(t, packaged+probeListener+adminListener)
	})
	t.Run("TLS handshake threads: normal priority under the unit, SCHED_IDLE with the README's drop-in", func(t *testing.T) {
		c.checkTLSPriority(t, packaged+probeListener+adminListener)
	})
	t.Run("stop, then socket activation starts it again", func(t *testing.T) {
		c.must(t, "systemctl", "stop", "echogate.service")
		if out, _ := c.run(10*time.Second, "systemctl", "is-active", "echogate.service"); strings.TrimSpace(out) != "inactive" {
			t.Fatalf("after systemctl stop: %s", out)
		}
		c.expectEcho(t, "tcp", "127.0.0.1:7007") // held by echogate-echo-tcp.socket, which starts the service
		c.must(t, "systemctl", "is-active", "echogate.service")
		c.must(t, "systemctl", "stop", "echogate.service", "echogate-echo-tcp.socket", "echogate-echo-udp.socket",
			"echogate-admin.socket")
	})
	c.powerOff(t)
}

// reloadWaits reports whether the installed echogate has `reload -control`, which ExecReload= uses to wait
// for the outcome of a reload.
func (c *container) reloadWaits(t *testing.T) bool {
	t.Helper()
	out, _ := c.run(10*time.Second, "/usr/bin/echogate", "reload", "-h")
	return strings.Contains(out, "-control")
}

// reloadRejected writes a config with an unknown key and checks that `systemctl reload` fails because
// ExecReload= reported the rejection (exit status 1 and the positioned error), not for any other reason.
func (c *container) reloadRejected(t *testing.T, broken string) {
	t.Helper()
	line := strings.Count(broken[:strings.Index(broken, "max_con =")], "\n") + 1
	c.writeFile(t, configInside, broken)
	cursor := c.journalCursor(t)
	if out, err := c.run(60*time.Second, "systemctl", "reload", "echogate.service"); err == nil {
		t.Fatalf("systemctl reload of a broken config succeeded:\n%s", out)
	}
	c.expectJournal(t, cursor, "Control process exited, code=exited, status=1/FAILURE")
	c.expectJournal(t, cursor, fmt.Sprintf(`%s:%d:1: listener "probe": unknown key "max_con"`, configInside, line))
}

// addSocketListener follows the README: a socket unit with Service=echogate.service alone cannot be started
// while the service runs, and a restart does not start it; with the drop-in's Sockets= one restart does.
func (c *container) addSocketListener(t *testing.T, config string) {
	t.Helper()
	c.writeFile(t, "/etc/systemd/system/echogate-admin.socket", adminSocket)
	c.must(t, "systemctl", "daemon-reload")
	cursor := c.journalCursor(t)
	if out, err := c.run(30*time.Second, "systemctl", "start", "echogate-admin.socket"); err == nil {
		t.Fatalf("systemd started a socket unit while its service was running:\n%s", out)
	}
	c.expectJournal(t, cursor, "Socket service echogate.service already active, refusing")

	c.writeFile(t, "/etc/systemd/system/echogate.service.d/admin.conf", adminDropIn)
	c.writeFile(t, configInside, config)
	c.must(t, "systemctl", "daemon-reload")
	cursor = c.journalCursor(t)
	c.must(t, "systemctl", "restart", "echogate.service")
	c.expectJournal(t, cursor, "adopting socket from systemd listener=admin")
	c.expectEcho(t, "tcp", adminAddr)
	c.expectEcho(t, "tcp", probeAddr)
}

// expectEcho checks one round trip to an echo listener inside the container, retrying for a few seconds
// while the listener may still be coming up.
func (c *container) expectEcho(t *testing.T, proto, addr string) {
	t.Helper()
	echo := echoTCP
	if proto == "udp" {
		echo = echoUDP
	}
	c.expectEchoWith(t, proto, addr, echo)
}

// expectEchoWith is expectEcho with the round trip echo makes.
func (c *container) expectEchoWith(t *testing.T, proto, addr string, echo func(pid int, addr, line string) error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = echo(c.leader, addr, "hello from the host\n"); err == nil {
			return
		}
	}
	out, _ := c.run(10*time.Second, "journalctl", "-u", "echogate.service", "-n", "30", "--no-pager")
	t.Fatalf("%s echo at %s inside the container: %v\n%s", proto, addr, err, out)
}

// journalCursor returns the journal's current end, to read only what comes after it.
func (c *container) journalCursor(t *testing.T) string {
	t.Helper()
	out := c.must(t, "journalctl", "-n", "1", "--show-cursor", "--no-pager", "-o", "cat")
	_, cursor, ok := strings.Cut(out, "-- cursor: ")
	if !ok {
		t.Fatalf("journalctl --show-cursor printed no cursor:\n%s", out)
	}
	return strings.TrimSpace(cursor)
}

// expectJournal waits up to 10 s for a line containing want in the container's journal after cursor ("" =
// from the start). The whole journal is searched: `journalctl -u` misses some of systemd's own lines about a
// unit, and the container runs nothing else.
func (c *container) expectJournal(t *testing.T, cursor, want string) {
	t.Helper()
	args := []string{"journalctl", "--no-pager", "-o", "cat"}
	if cursor != "" {
		args = append(args, "--after-cursor="+cursor)
	}
	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, _ = c.run(10*time.Second, args...)
		if strings.Contains(out, want) {
			return
		}
	}
	t.Fatalf("no journal line with %q:\n%s", want, out)
}
