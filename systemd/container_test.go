package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The real-systemd tests boot a Debian root under systemd-nspawn. The root is built once with mmdebstrap
// and cached outside the repository; each boot runs it with --volatile=overlay, so every change made inside
// goes to a tmpfs and the cache is never modified.
const (
	defaultCache = "/var/cache/echogate-test" // ECHOGATE_SYSTEMD_CACHE overrides it
	defaultSuite = "bookworm"                 // Debian 12, systemd 252; ECHOGATE_SYSTEMD_SUITE overrides it
)

// Timeouts of the container's life cycle; every command inside has its own (see container.run).
const (
	bootstrapTimeout = 6 * time.Minute  // mmdebstrap, about 40 s here on a cold cache
	bootTimeout      = 60 * time.Second // until `systemctl is-system-running --wait` answers
	powerOffTimeout  = 30 * time.Second
)

// containerEnv is the environment of every command run inside: no pager, no colours, Debian's PATH.
var containerEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_PAGER=cat", "SYSTEMD_COLORS=0", "LANG=C.UTF-8"}

// container is a booted systemd-nspawn container that this test started.
type container struct {
	nspawn  *exec.Cmd
	leader  int           // host PID of the container's init
	exited  chan struct{} // closed when systemd-nspawn has exited
	waitErr error
	console syncBuffer // systemd-nspawn's output, the container's boot and shutdown messages
}

// needRoot skips the test unless it runs as root (what says what needs it) and finds every one of tools.
func needRoot(t *testing.T, what string, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(what + " needs root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (.ci/run installs it)", tool)
		}
	}
}

// bootContainer boots the cached root of suite with the given extra systemd-nspawn arguments and waits until
// its systemd has finished starting up. It skips the test where nspawn cannot boot here. The container is
// powered off when the test ends, whatever happened.
func bootContainer(t *testing.T, suite string, extra ...string) *container {
	t.Helper()
	needRoot(t, "booting a container", "systemd-nspawn", "nsenter")
	root := cachedRoot(t, suite)
	args := append([]string{"-D", root, "--boot", "--private-network", "--register=no", "--keep-unit",
		"--volatile=overlay", "--console=passive", "--quiet", "--machine=echogate-test-" + strconv.Itoa(os.Getpid())},
		extra...)
	c := &container{exited: make(chan struct{})}
	c.nspawn = exec.Command("systemd-nspawn", args...)
	c.nspawn.Stdout, c.nspawn.Stderr = &c.console, &c.console
	// Its own session: no terminal signals. Pdeathsig: if the test binary dies without cleaning up (a -timeout
	// panic), systemd-nspawn gets SIGTERM and halts the container. The kernel sends it when the forking
	// thread exits, so that thread stays with this test's goroutine, which ends after the cleanups.
	runtime.LockOSThread()
	c.nspawn.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	if err := c.nspawn.Start(); err != nil {
		t.Skipf("systemd-nspawn: %v", err)
	}
	go func() { c.waitErr = c.nspawn.Wait(); close(c.exited) }()
	t.Cleanup(func() { c.stop(t) })

	leader, err := c.findLeader(10 * time.Second)
	if err != nil {
		t.Skipf("systemd-nspawn cannot boot %s here: %v\n%s", root, err, c.console.tail(30))
	}
	c.leader = leader
	state, err := c.bootState()
	if state != "running" && state != "degraded" {
		t.Skipf("the container's systemd did not finish booting (%q, %v):\n%s", state, err, c.console.tail(30))
	}
	t.Logf("booted %s (init is host pid %d, state %s)", suite, leader, state)
	return c
}

// bootState waits until the container's systemd has finished starting up and returns its state. Early in
// the boot systemctl says "offline" (no /run/systemd/system yet) or cannot connect at all: that is retried.
func (c *container) bootState() (string, error) {
	deadline := time.Now().Add(bootTimeout)
	for {
		out, err := c.run(time.Until(deadline), "systemctl", "is-system-running", "--wait")
		state := strings.TrimSpace(out)
		state = state[strings.LastIndex(state, "\n")+1:] // after warnings such as "/proc/ is not mounted"
		early := state == "offline" || strings.Contains(state, "Failed to connect to")
		if !early || time.Now().After(deadline) {
			return state, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// findLeader returns the host PID of the container's init: the child of systemd-nspawn that is PID 1 in
// its own PID namespace.
func (c *container) findLeader(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return 0, fmt.Errorf("systemd-nspawn exited: %v", c.waitErr)
		case <-time.After(100 * time.Millisecond):
		}
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
			if err == nil && statusField(status, "PPid") == strconv.Itoa(c.nspawn.Process.Pid) &&
				strings.HasSuffix(statusField(status, "NSpid"), "\t1") {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no container init within %s", timeout)
}

// statusField returns the value of one "Name:\tvalue" line of /proc/PID/status.
func statusField(status []byte, name string) string {
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, name+":\t"); ok {
			return v
		}
	}
	return ""
}

// run runs a command inside the container (all its namespaces) and returns its combined output.
func (c *container) run(timeout time.Duration, args ...string) (string, error) {
	return c.runInput(timeout, "", args...)
}

// runInput is run with stdin.
func (c *container) runInput(timeout time.Duration, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(c.leader), "-a", "--"}, args...)...)
	cmd.Env = containerEnv
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%v: timed out after %s", args, timeout)
	} else if err != nil {
		err = fmt.Errorf("%v: %w", args, err)
	}
	return string(out), err
}

// must runs a command inside and fails the test when it fails.
func (c *container) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.run(30*time.Second, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// writeFile writes content to path inside the container.
func (c *container) writeFile(t *testing.T, path, content string) {
	t.Helper()
	if out, err := c.runInput(10*time.Second, content, "sh", "-c", `mkdir -p "$(dirname "$1")" && cat >"$1"`, "sh", path); err != nil {
		t.Fatalf("writing %s: %v\n%s", path, err, out)
	}
}

// powerOff shuts the container down from inside and fails the test unless systemd-nspawn then exits cleanly.
func (c *container) powerOff(t *testing.T) {
	t.Helper()
	if out, err := c.run(10*time.Second, "systemctl", "poweroff", "--no-block"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	select {
	case <-c.exited:
		if c.waitErr != nil {
			t.Errorf("systemd-nspawn after poweroff: %v\n%s", c.waitErr, c.console.tail(20))
		}
	case <-time.After(powerOffTimeout):
		t.Errorf("the container did not power off within %s\n%s", powerOffTimeout, c.console.tail(20))
	}
}

// stop ends the container if it still runs: SIGTERM to systemd-nspawn asks its init for an orderly halt;
// if that takes too long, SIGKILL to the container's init ends its whole PID namespace.
func (c *container) stop(t *testing.T) {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.nspawn.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return
	case <-time.After(powerOffTimeout):
	}
	t.Logf("the container did not halt within %s; killing it", powerOffTimeout)
	if c.leader > 0 {
		_ = unix.Kill(c.leader, unix.SIGKILL)
	}
	_ = c.nspawn.Process.Kill()
	<-c.exited
}

// cachedRoot returns the Debian root for suite, building it with mmdebstrap when it is not cached yet. A
// lock file keeps two test runs from building it at once; the root appears under its final name only when
// complete.
func cachedRoot(t *testing.T, suite string) string {
	t.Helper()
	cache := envOr("ECHOGATE_SYSTEMD_CACHE", defaultCache)
	root := filepath.Join(cache, suite)
	if complete(root) {
		return root
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		t.Skipf("no cached root at %s and no mmdebstrap to build one (apt-get install mmdebstrap)", root)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Skipf("cache for the container root: %v", err)
	}
	unlock := lockFile(t, root+".lock", bootstrapTimeout)
	defer unlock()
	if complete(root) { // built by another run while we waited
		return root
	}
	tmp := root + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bootstrapTimeout)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "mmdebstrap", "--variant=minbase", "--include=systemd,systemd-sysv,dbus",
		suite, tmp).CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(tmp)
		t.Skipf("mmdebstrap %s could not build a root (no Debian mirror reachable?): %v\n%s", suite, err, lastLines(out, 15))
	}
	if err := os.Rename(tmp, root); err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s with mmdebstrap in %s", root, time.Since(start).Round(time.Second))
	return root
}

// complete reports whether root holds a finished Debian root with systemd.
func complete(root string) bool {
	_, err := os.Stat(filepath.Join(root, "usr/lib/systemd/systemd"))
	return err == nil
}

// lockFile takes an exclusive flock on path, waiting at most timeout, and returns the unlock function.
func lockFile(t *testing.T, path string, timeout time.Duration) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() } // closing releases the lock
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			_ = f.Close()
			t.Fatalf("lock %s: %v", path, err)
		}
		time.Sleep(time.Second)
	}
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
