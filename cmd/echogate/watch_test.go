package main

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// Tests of what makes the file watcher ask for a reload, through the real binary.

// watchSettle is long enough for any reload a finished write could still cause (three debounces).
const watchSettle = 3 * watchDebounce

// A writer that truncates the config, stalls a second and only then writes it (a template render,
// `(sleep 1; cat good.toml) > echogate.toml`) is applied once, after it closes the file: meanwhile every
// listener keeps accepting and an open connection keeps echoing.
func TestWatchSlowWriterAppliedAfterClose(t *testing.T) {
	t.Parallel()
	udp := echotest.UnboundListener("u", "udp", `address = "127.0.0.1:0"`)
	d := echotest.Start(t, echotest.TCPListener("a", "127.0.0.1:0", "max_line = 100")+udp)
	a, u := d.Addr("a"), d.Addr("u")
	live := echotest.DialTCP(t, a)
	mark := d.LogLines()
	next := echotest.TCPListener("a", "127.0.0.1:0", "max_line = 200") + udp + echotest.TCPListener("b", "127.0.0.1:0")
	echotest.SlowWrite(t, d.Config, "", next, time.Second, func() {
		live.SetDeadline(time.Now().Add(5 * time.Second))
		echotest.RoundTrip(t, live, "still here\n", "still here\n")
		echotest.TCPEcho(t, a, "new connection while the file is empty\n")
		echotest.UDPEcho(t, u, "datagram while the file is empty\n")
	})
	expectWholeFileApplied(t, d, mark, live)
}

// A writer that writes a valid config (the first of two listeners), pauses holding the file open, and then
// writes the rest: the valid prefix is never applied, only the whole file is.
func TestWatchValidPrefixNeverApplied(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCPListener("a", "127.0.0.1:0", "max_line = 100"))
	live := echotest.DialTCP(t, d.Addr("a"))
	mark := d.LogLines()
	head := echotest.TCPListener("a", "127.0.0.1:0", "max_line = 200")
	rest := echotest.TCPListener("b", "127.0.0.1:0")
	echotest.SlowWrite(t, d.Config, head, rest, time.Second, func() { checkMaxLine(t, live, 100) })
	expectWholeFileApplied(t, d, mark, live)
}

// expectWholeFileApplied checks that a slow write of the config (listener a's max_line 100 → 200, listener b
// added) was applied in exactly one reload after log line mark, and never read while incomplete: live, an
// open connection to a, sees the new max_line; b echoes; no reload failed.
func expectWholeFileApplied(t *testing.T, d *echotest.Daemon, mark int, live net.Conn) {
	t.Helper()
	summary := d.AwaitReload(t, mark)
	if !strings.Contains(summary, "added=1 removed=0 changed=1") {
		t.Errorf("summary: %s (want the whole file: a changed and b added, in one reload)", summary)
	}
	checkMaxLine(t, live, 200)
	echotest.TCPEcho(t, d.Addr("b"), "added by the slow write\n")
	time.Sleep(watchSettle)
	ok, failed := echotest.Reloads(t, d.Addr("a"))
	if ok != 1 {
		t.Errorf("%d reloads for one slow write, want 1", ok)
	}
	if failed != 0 {
		t.Errorf("%d failed reloads: an incomplete file was read", failed)
	}
}

// While a broken config is in place, 50 writes to a file beside it (the daemon's own log, say) cause no
// reload at all: one failure is logged, for the broken file itself, and the fixed file is applied.
func TestWatchNeighbourWritesCauseNoRetry(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCPListener("a", "127.0.0.1:0"))
	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, echotest.TCPListener("a", "127.0.0.1:0", "max_line = 0"))
	d.AwaitReloadFailed(t, mark)
	neighbour := filepath.Join(filepath.Dir(d.Config), "echogate.log")
	for i := 0; i < 50; i++ {
		f, err := os.OpenFile(neighbour, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.WriteString(f, "level=INFO msg=\"a log line\"\n")
		if cerr := f.Close(); err != nil || cerr != nil {
			t.Fatal(err, cerr)
		}
		time.Sleep(50 * time.Millisecond)
		if i%10 == 9 {
			time.Sleep(watchSettle) // the log goes quiet for a while: long enough for any debounce to end
		}
	}
	fixed := d.LogLines()
	echotest.SaveAtomic(t, d.Config, echotest.TCPListener("a", "127.0.0.1:0", "max_line = 300"))
	d.AwaitReload(t, fixed)
	checkMaxLine(t, echotest.DialTCP(t, d.Addr("a")), 300)
	if _, failed := echotest.Reloads(t, d.Addr("a")); failed != 1 {
		t.Errorf("%d failed reloads, want 1", failed)
	}
	if n := d.CountLogAfter(mark, "config file unchanged"); n != 0 {
		t.Errorf("the config was read again %d times for writes to another file", n)
	}
}

// Content that was rejected once is not tried again when it is saved again unchanged; SIGHUP tries it, and
// so does any other content.
func TestReloadRejectedContentNotRetried(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.TCPListener("a", "127.0.0.1:0"))
	broken := echotest.TCPListener("a", "127.0.0.1:0", "max_line = 0")
	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, broken)
	d.AwaitReloadFailed(t, mark)

	again := d.LogLines()
	echotest.SaveInPlace(t, d.Config, broken)
	if _, err := d.WaitLogAfter(again, "config file unchanged since the rejected reload", 15*time.Second); err != nil {
		t.Fatal(err)
	}
	hup := d.LogLines()
	d.Signal(syscall.SIGHUP)
	d.AwaitReloadFailed(t, hup)
	other := d.LogLines()
	echotest.SaveAtomic(t, d.Config, broken+"# another mistake\nmax_line = 0\n")
	d.AwaitReloadFailed(t, other)
	if _, failed := echotest.Reloads(t, d.Addr("a")); failed != 3 {
		t.Errorf("%d failed reloads, want 3 (the first save, SIGHUP, other content)", failed)
	}
	fixed := d.LogLines()
	echotest.SaveAtomic(t, d.Config, echotest.TCPListener("a", "127.0.0.1:0", "max_line = 300"))
	d.AwaitReload(t, fixed)
}

// The watch follows the path, not the directory: a config directory renamed away and created anew, one
// moved into place whole, or one removed and recreated, is watched again, its config applied without
// SIGHUP, and later edits in it are seen too.
func TestWatchFollowsReplacedDirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "conf")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "echogate.toml")
	version := func(n int) string { return echotest.TCPListener("a", "127.0.0.1:0", "max_line = "+itoa(100+n)) }
	d := echotest.StartAt(t, path, version(0))
	live := echotest.DialTCP(t, d.Addr("a"))
	for i, step := range []struct {
		name  string
		write func(content string)
	}{
		{"renamed away, created anew", func(content string) {
			mustRename(t, dir, filepath.Join(root, "conf.old1"))
			mustMkdir(t, dir)
			echotest.SaveInPlace(t, path, content)
		}},
		{"moved into place whole", func(content string) {
			staging := filepath.Join(root, "conf.new")
			mustMkdir(t, staging)
			echotest.SaveInPlace(t, filepath.Join(staging, "echogate.toml"), content)
			mustRename(t, dir, filepath.Join(root, "conf.old2"))
			mustRename(t, staging, dir)
		}},
		{"removed and recreated", func(content string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // a slow deploy: the path is missing for a while
			mustMkdir(t, dir)
			echotest.SaveAtomic(t, path, content)
		}},
		{"edited in the new directory", func(content string) { echotest.SaveInPlace(t, path, content) }},
	} {
		mark := d.LogLines()
		step.write(version(i + 1))
		if summary := d.AwaitReload(t, mark); !strings.Contains(summary, "changed=1") {
			t.Errorf("%s: summary %s", step.name, summary)
		}
		checkMaxLine(t, live, 100+i+1)
	}
	mark := d.LogLines()
	before, _ := echotest.Reloads(t, d.Addr("a"))
	echotest.SaveInPlace(t, filepath.Join(root, "conf.old1", "echogate.toml"), version(9)) // no longer the config
	echotest.SaveInPlace(t, path, version(5))
	d.AwaitReload(t, mark)
	checkMaxLine(t, live, 105)
	time.Sleep(watchSettle)
	if ok, _ := echotest.Reloads(t, d.Addr("a")); ok-before != 1 {
		t.Errorf("%d reloads after an edit of the old directory and one of the config, want 1", ok-before)
	}
}

// A Kubernetes ConfigMap update (a new versioned directory, ..data swapped to it, the old one removed) is
// applied once per update.
func TestWatchConfigMapSwap(t *testing.T) {
	t.Parallel()
	version := func(n int) string { return echotest.TCPListener("a", "127.0.0.1:0", "max_line = "+itoa(100+n)) }
	cm := echotest.NewConfigMap(t, version(0))
	d := echotest.Start(t, "", echotest.Options{NoConfig: true, Args: []string{"-config", cm.Path()}})
	live := echotest.DialTCP(t, d.Addr("a"))
	for n := 1; n <= 3; n++ {
		step := d.LogLines()
		cm.Swap(t, version(n))
		d.AwaitReload(t, step)
		checkMaxLine(t, live, 100+n)
	}
	time.Sleep(watchSettle)
	if ok, _ := echotest.Reloads(t, d.Addr("a")); ok != 3 {
		t.Errorf("%d reloads for 3 swaps", ok)
	}
}

// What editors and tools really do to a file is seen, once per save: vim's rename-save (the original
// renamed to a backup, a new file written), vim with backupcopy=yes (in place), sed -i (a temporary file
// renamed over), ln -sfn (a temporary symlink renamed over), cp (truncate and write, here through that
// symlink), install (unlink and create) and mv.
func TestWatchEditorsAndTools(t *testing.T) {
	t.Parallel()
	version := func(n int) string { return echotest.TCPListener("a", "127.0.0.1:0", "max_line = "+itoa(100+n)) }
	d := echotest.Start(t, version(0))
	dir := filepath.Dir(d.Config)
	live := echotest.DialTCP(t, d.Addr("a"))
	vim := func(backupcopy string) func(n int) *exec.Cmd {
		return func(n int) *exec.Cmd {
			// backupskip= because vim makes no backup (and so writes in place) for files under /tmp.
			c := exec.Command("vim", "-N", "-u", "NONE", "-i", "NONE", "-c",
				"set backupskip= writebackup backupcopy="+backupcopy,
				"-c", "%s/max_line = "+itoa(100+n-1)+"/max_line = "+itoa(100+n)+"/", "-c", "wq", d.Config)
			c.Env = append(os.Environ(), "TERM=dumb")
			return c
		}
	}
	src := func(n int) string {
		p := filepath.Join(t.TempDir(), "new.toml")
		echotest.SaveInPlace(t, p, version(n))
		return p
	}
	tools := []struct {
		name string
		cmd  func(n int) *exec.Cmd
	}{
		{"vim", vim("no")},
		{"vim backupcopy=yes", vim("yes")},
		{"sed -i", func(n int) *exec.Cmd {
			return exec.Command("sed", "-i", "s/max_line = "+itoa(100+n-1)+"/max_line = "+itoa(100+n)+"/", d.Config)
		}},
		{"ln -sfn", func(n int) *exec.Cmd { return exec.Command("ln", "-sfn", src(n), d.Config) }},
		{"cp", func(n int) *exec.Cmd { return exec.Command("cp", src(n), d.Config) }}, // through the symlink
		{"install", func(n int) *exec.Cmd { return exec.Command("install", "-m", "0644", src(n), d.Config) }},
		{"mv", func(n int) *exec.Cmd {
			tmp := filepath.Join(dir, "echogate.toml.new")
			echotest.SaveInPlace(t, tmp, version(n))
			return exec.Command("mv", tmp, d.Config)
		}},
	}
	saves := 0
	for _, tool := range tools {
		if _, err := exec.LookPath(strings.Fields(tool.name)[0]); err != nil {
			t.Logf("%s: not installed, skipped", tool.name)
			continue
		}
		saves++
		step := d.LogLines()
		c := tool.cmd(saves)
		c.Stdin = nil
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", tool.name, err, out)
		}
		if _, err := d.WaitLogAfter(step, "msg=reload result=ok", 15*time.Second); err != nil {
			t.Fatalf("%s: %v", tool.name, err)
		}
		checkMaxLine(t, live, 100+saves)
		time.Sleep(watchSettle) // a second reload for the same save would be counted below
	}
	if ok, _ := echotest.Reloads(t, d.Addr("a")); ok != uint64(saves) {
		t.Errorf("%d reloads for %d saves", ok, saves)
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}
