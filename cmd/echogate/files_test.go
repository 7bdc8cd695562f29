package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// Tests of the files echogate reads and writes: config and token files that are not small regular files,
// token files that another user owns, and a pid_file with a symlink planted at its path.

// fMkfifo makes a FIFO at path.
func fMkfifo(t *testing.T, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fSymlink makes path a symlink to target.
func fSymlink(t *testing.T, target, path string) string {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// fSparse writes content at path and extends it, without allocating disk, to size bytes of which the rest
// are NULs.
func fSparse(t *testing.T, path, content string, size int64) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOddFilesRefused checks that check and run refuse, at once and without reading them whole, a config or
// token file that is a FIFO, a device or 1 GiB, and a token file that another user owns, each with an error
// that names the file (and for a token, the line of its key).
func TestOddFilesRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	withToken := func(name, tokenFile string) string {
		path := filepath.Join(dir, name+".toml")
		if err := os.WriteFile(path, []byte(pListenerHead+"token_file = \""+tokenFile+"\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	unpositioned := func(path, msg string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^(echogate: )?` + regexp.QuoteMeta(path) + `: read config: ` + msg)
	}
	cases := []struct {
		name, config string
		want         *regexp.Regexp
	}{
		{"config is a FIFO", fMkfifo(t, filepath.Join(dir, "fifo.toml")), nil},
		{"config is a symlink to /dev/zero", fSymlink(t, "/dev/zero", filepath.Join(dir, "zero.toml")), nil},
		{"config is a sparse 1 GiB file", fSparse(t, filepath.Join(dir, "huge.toml"), pListenerHead, 1<<30), nil},
		{"token_file is a FIFO", withToken("tokfifo", fMkfifo(t, filepath.Join(dir, "fifo.token"))), nil},
		{"token_file is /dev/zero", withToken("tokzero", "/dev/zero"), nil},
	}
	cases[0].want = unpositioned(cases[0].config, `not a regular file: it is a named pipe \(FIFO\)`)
	cases[1].want = unpositioned(cases[1].config, `not a regular file: it is a character device`)
	cases[2].want = unpositioned(cases[2].config, `the file is 1073741824 bytes, over the limit of 16777216 \(16 MiB\)`)
	cases[3].want = pPositioned(cases[3].config, "5", `listener "diag": token_file ".*fifo.token": not a regular file: it is a named pipe \(FIFO\)`)
	cases[4].want = pPositioned(cases[4].config, "5", `token_file "/dev/zero": not a regular file: it is a character device`)
	if os.Geteuid() == 0 { // only root can give the file away
		foreign := pWriteToken(t, dir, "foreign.token", pToken+"\n", 0o600)
		if err := os.Chown(foreign, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct {
			name, config string
			want         *regexp.Regexp
		}{"token_file owned by another user", withToken("foreign", foreign),
			pPositioned(filepath.Join(dir, "foreign.toml"), "5", `token_file ".*foreign.token": owned by uid 65534 \(nobody\), `+
				`who could change it; want root or the user echogate runs as \(uid 0 \(root\)\): chown it`)})
	}
	for _, tc := range cases {
		for _, cmd := range [][]string{{"check"}, {"run", "-log-format", "text"}} {
			t.Run(tc.name+"/"+cmd[0], func(t *testing.T) {
				t.Parallel()
				_, stderr, code := echotest.RunCLI(t, append(cmd, "-config", tc.config)...)
				if code != 1 || !tc.want.MatchString(stderr) {
					t.Fatalf("exit %d, stderr %q; want exit 1 and %s", code, stderr, tc.want)
				}
				if strings.Contains(stderr, "ready") || strings.Contains(stderr, pToken) {
					t.Fatalf("served or showed the token:\n%s", stderr)
				}
			})
		}
	}
}

// TestReloadRefusesOddFiles checks that a running daemon refuses a reload whose token_file became a FIFO, and
// one whose config became a FIFO, a symlink to /dev/zero or a sparse 1 GiB file: each reload fails at once
// with an error naming the file, the daemon keeps serving with its old config (its old token still stops
// it), and its memory never grows by the size of the file.
func TestReloadRefusesOddFiles(t *testing.T) {
	t.Parallel()
	tok := pWriteToken(t, t.TempDir(), "shutdown.token", pToken+"\n", 0o600)
	d := echotest.Start(t, echotest.TCPListener("main", "127.0.0.1:0", `token_file = "`+tok+`"`))
	addr := d.Addr("main")

	// The token file is replaced by a FIFO, outside the watched directory: SIGHUP reloads.
	if err := os.Remove(tok); err != nil {
		t.Fatal(err)
	}
	fMkfifo(t, tok)
	mark := d.LogLines()
	d.Signal(syscall.SIGHUP)
	if line := d.AwaitReloadFailed(t, mark); !strings.Contains(line, "echogate.toml:6:1: ") ||
		!strings.Contains(line, `not a regular file: it is a named pipe (FIFO)`) {
		t.Fatalf("want the token_file's place and type in: %s", line)
	}
	echotest.TCPEcho(t, addr, "served after a FIFO token\n")

	// The config is replaced by odd files, each renamed over it in one step: the watcher reloads.
	spare := t.TempDir()
	for _, step := range []struct {
		name, want string
		make       func(path string)
	}{
		{"fifo", "not a regular file: it is a named pipe (FIFO)", func(p string) { fMkfifo(t, p) }},
		{"zero", "not a regular file: it is a character device", func(p string) { fSymlink(t, "/dev/zero", p) }},
		{"huge", "the file is 1073741824 bytes, over the limit of 16777216 (16 MiB)",
			func(p string) { fSparse(t, p, echotest.TCPListener("main", addr), 1<<30) }},
	} {
		next := filepath.Join(spare, step.name)
		step.make(next)
		mark := d.LogLines()
		if err := os.Rename(next, d.Config); err != nil {
			t.Fatal(err)
		}
		if line := d.AwaitReloadFailed(t, mark); !strings.Contains(line, d.Config+": read config: "+step.want) {
			t.Fatalf("%s: want %q in: %s", step.name, step.want, line)
		}
		echotest.TCPEcho(t, addr, "served after "+step.name+"\n")
	}
	const bound = 100 << 20
	peak := d.PeakRSS()
	t.Logf("peak RSS of the daemon: %.1f MiB", float64(peak)/(1<<20))
	if peak > bound {
		t.Errorf("peak RSS %d bytes, want under %d: a refused file was read", peak, bound)
	}
	if s := echotest.Stats(t, addr); s.ReloadsFailed != 4 {
		t.Errorf("reloads_failed = %d, want 4", s.ReloadsFailed)
	}
	c := echotest.DialTCP(t, addr)
	echotest.RoundTrip(t, c, "/shutdown "+pToken+"\n", "OK, shutting down\n")
	if err := d.Wait(15 * time.Second); err != nil {
		t.Fatalf("exit after /shutdown with the old token: %v", err)
	}
}

// TestPIDFilePlantedSymlink checks that a symlink planted at pid_file is replaced, never followed: the file it
// points at is unchanged, pid_file becomes a regular file with the daemon's PID, and it is removed at exit.
func TestPIDFilePlantedSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile := fSymlink(t, victim, filepath.Join(dir, "echogate.pid"))
	d := echotest.Start(t, fmt.Sprintf("[daemon]\npid_file = %q\n", pidFile)+echotest.TCPListener("main", "127.0.0.1:0"))
	checkVictim := func() {
		t.Helper()
		if b, err := os.ReadFile(victim); err != nil || string(b) != "precious\n" {
			t.Fatalf("victim file: %q, %v; want it unchanged", b, err)
		}
	}
	checkVictim()
	if st, err := os.Lstat(pidFile); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("pid_file: %v, %v; want a regular file", st, err)
	}
	want := fmt.Sprintf("%d\n", d.Pid())
	if b, err := os.ReadFile(pidFile); err != nil || string(b) != want {
		t.Fatalf("pid_file holds %q, %v; want %q", b, err, want)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	checkVictim()
	if _, err := os.Lstat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid_file after exit: %v, want it removed", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestPIDFileNotOursKept checks that the daemon removes pid_file at exit only while it holds its own PID: one
// that another daemon wrote meanwhile stays.
func TestPIDFileNotOursKept(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "echogate.pid")
	d := echotest.Start(t, fmt.Sprintf("[daemon]\npid_file = %q\n", pidFile)+echotest.TCPListener("main", "127.0.0.1:0"))
	const other = "4194000\n"
	if err := os.WriteFile(pidFile, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(pidFile); err != nil || string(b) != other {
		t.Fatalf("pid_file after exit: %q, %v; want the other daemon's %q kept", b, err, other)
	}
}
