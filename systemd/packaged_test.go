package systemd

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// packagedConfig is the config the .deb installs as /etc/echogate/echogate.toml.
const packagedConfig = "echogate.toml"

// withoutIPv6Loopback runs a command in a new network namespace whose loopback is up with IPv6 turned off,
// as on a host booted with IPv6 disabled. On a kernel without IPv6 the namespace has none anyway.
const withoutIPv6Loopback = `ip link set lo up &&
if [ -e /proc/sys/net/ipv6/conf/lo/disable_ipv6 ]; then echo 1 >/proc/sys/net/ipv6/conf/lo/disable_ipv6; fi &&
exec "$0" "$@"`

// TestPackagedConfigWithoutIPv6Loopback starts the daemon on the packaged default config in a network
// namespace whose loopback has no IPv6, as systemd would start it on such a host, and checks that it becomes
// ready and echoes over TCP and UDP.
func TestPackagedConfigWithoutIPv6Loopback(t *testing.T) {
	needNetns(t)
	bin := echogateBinary(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "echogate.toml")
	copyTo(t, dir, "echogate.toml", readFile(t, packagedConfig))
	notify := notifySocket(t, filepath.Join(dir, "notify"))

	cmd := exec.Command("unshare", "-n", "sh", "-c", withoutIPv6Loopback, bin, "run", "-config", config, "-log-format", "text")
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("daemon log:\n%s", log.tail(40))
		}
	})
	for msg := receive(t, notify); !strings.Contains(msg, "READY=1"); msg = receive(t, notify) {
	}
	pid := cmd.Process.Pid // unshare and sh exec in place: this is the daemon, in its namespace once ready

	// The namespace really has no IPv6 loopback: what failed the old default ([::1]:7008) fails here.
	if err := inNetns(pid, func() error {
		l, err := net.Listen("tcp", "[::1]:0")
		if err == nil {
			_ = l.Close()
		}
		return err
	}); !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.EAFNOSUPPORT) {
		t.Fatalf("bind [::1]:0 in the daemon's namespace: %v; want EADDRNOTAVAIL (no IPv6 loopback)", err)
	}
	if err := echoTCP(pid, "127.0.0.1:7007", "hello\n"); err != nil {
		t.Error(err)
	}
	if err := echoUDP(pid, "127.0.0.1:7007", "ping"); err != nil {
		t.Error(err)
	}
}

// needNetns skips the test where it cannot make a network namespace: not root, or no unshare or ip.
func needNetns(t *testing.T) {
	t.Helper()
	needRoot(t, "a network namespace", "unshare", "ip")
}

// echogateBinary returns $ECHOGATE_BIN (make test sets it), or builds cmd/echogate into a temporary directory.
func echogateBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("ECHOGATE_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "echogate")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/echogate").CombinedOutput(); err != nil {
		t.Fatalf("building echogate: %v\n%s", err, out)
	}
	return bin
}

// syncBuffer is a bytes.Buffer that the process copier and the test may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last n lines written.
func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return lastLines(b.buf.Bytes(), n)
}

// lastLines returns the last n lines of b.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestPackagedConfigCheckBindWithoutIPv6 runs `echogate check -bind` on the packaged default config in a
// namespace with no IPv6 loopback, where it must pass, and on the full example, whose [::1] listener must
// fail there with its position: the check an operator runs before installing a config.
func TestPackagedConfigCheckBindWithoutIPv6(t *testing.T) {
	needNetns(t)
	bin := echogateBinary(t)
	for _, tc := range []struct {
		name, config string
		ok           bool
		want         string
	}{
		{"packaged", packagedConfig, true, "ok"},
		{"full example", "../examples/echogate.toml", false, `:33:1: listener "raw6": bind tcp/[::1]:7008`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command("unshare", "-n", "sh", "-c", withoutIPv6Loopback, bin, "check", "-bind",
				"-config", tc.config).CombinedOutput()
			if (err == nil) != tc.ok || !strings.Contains(string(out), tc.want) {
				t.Fatalf("check -bind %s: %v\n%s\nwant success=%v and %q", tc.config, err, out, tc.ok, tc.want)
			}
		})
	}
}
