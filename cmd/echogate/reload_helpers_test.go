package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Helpers shared by the hot-reload tests.

// saveAtomic saves a file the way editors do: write a temporary file beside it, then rename it over the
// original (the original inode is replaced, so a watch on the file itself would be lost).
func saveAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".swp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// saveInPlace truncates and rewrites the file (following symlinks), keeping its inode.
func saveInPlace(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// awaitReload waits for the reload summary logged after mark, checks that it reports result=ok and
// returns it.
func (d *testDaemon) awaitReload(t *testing.T, mark int) string {
	t.Helper()
	line, err := d.waitLogAfter(mark, "msg=reload result=", 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "result=ok") {
		t.Fatalf("reload not ok: %s", line)
	}
	return line
}

// awaitReloadFailed waits for a rejected reload logged after mark and checks that nothing was applied.
func (d *testDaemon) awaitReloadFailed(t *testing.T, mark int) string {
	t.Helper()
	line, err := d.waitLogAfter(mark, "reload failed", 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if applied, err := d.waitLogAfter(mark, "msg=reload result=", 0); err == nil {
		t.Fatalf("a rejected file was applied: %s", applied)
	}
	return line
}

// expectTCPRefused checks that nothing listens on addr any more.
func expectTCPRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
}

// expectUDPRefused checks that a datagram to addr gets ICMP port unreachable (ECONNREFUSED on a connected
// socket), never an echo.
func expectUDPRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	for try := 0; try < 3; try++ {
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("anyone?\n")); err != nil && errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		n, err := c.Read(buf)
		switch {
		case err == nil:
			t.Fatalf("%s/udp still echoes: %q", addr, buf[:n])
		case errors.Is(err, syscall.ECONNREFUSED):
			return
		}
	}
	t.Fatalf("%s/udp: no port-unreachable after 3 datagrams", addr)
}

// udpEcho sends one datagram to addr and expects it back unchanged.
func udpEcho(t *testing.T, addr, payload string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(payload)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(payload)+64)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("udp %s: %v", addr, err)
	}
	if string(buf[:n]) != payload {
		t.Fatalf("udp %s: got %q, want %q", addr, buf[:n], payload)
	}
}

// tcpEcho opens a fresh connection to addr, checks one echo and closes it.
func tcpEcho(t *testing.T, addr, line string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	roundTrip(t, c, line, line)
}

// checkMaxLine checks on c that a line of max+1 bytes is refused and one of max bytes is echoed (in this
// order, so the connection is never left with two overflows in a row).
func checkMaxLine(t *testing.T, c net.Conn, max int) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	roundTrip(t, c, strings.Repeat("L", max+1)+"\n", "ERR too-long-line\n")
	ok := strings.Repeat("k", max) + "\n"
	roundTrip(t, c, ok, ok)
}

// freeTCPPort returns a loopback port that was free a moment ago, for configs that need a fixed port
// (a rename hands the socket over only when the address names a port).
func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// listenInode returns the socket inode of the TCP socket listening on 127.0.0.1:port, from /proc/net/tcp:
// the same inode before and after a reload means the same socket.
func listenInode(t *testing.T, port int) string {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	for _, row := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(row)
		if len(f) >= 10 && f[1] == local && f[3] == "0A" { // 0A = LISTEN
			return f[9]
		}
	}
	t.Fatalf("nothing listens on 127.0.0.1:%d", port)
	return ""
}

// logDuration reads a duration attribute such as took=1.5ms from a log line.
func logDuration(line, key string) (time.Duration, bool) {
	_, rest, ok := strings.Cut(line, " "+key+"=")
	if !ok {
		return 0, false
	}
	v, _, _ := strings.Cut(rest, " ")
	d, err := time.ParseDuration(v)
	return d, err == nil
}

// configMapDir lays a config out the way Kubernetes mounts a ConfigMap: echogate.toml -> ..data/echogate.toml,
// where ..data is a symlink to a versioned directory, swapped atomically.
type configMapDir struct {
	root string
	gen  int
}

func newConfigMapDir(t *testing.T, content string) *configMapDir {
	k := &configMapDir{root: t.TempDir()}
	k.swap(t, content)
	if err := os.Symlink("..data/echogate.toml", k.path()); err != nil {
		t.Fatal(err)
	}
	return k
}

// path is the symlink the daemon is started on.
func (k *configMapDir) path() string { return filepath.Join(k.root, "echogate.toml") }

// file is the current file behind the symlinks.
func (k *configMapDir) file() string { return filepath.Join(k.root, "..data", "echogate.toml") }

// swap publishes content in a new versioned directory, renames a new ..data symlink over the old one and
// removes the previous version, as the kubelet does.
func (k *configMapDir) swap(t *testing.T, content string) {
	t.Helper()
	k.gen++
	dir := fmt.Sprintf("..v%03d", k.gen)
	if err := os.Mkdir(filepath.Join(k.root, dir), 0o755); err != nil {
		t.Fatal(err)
	}
	saveInPlace(t, filepath.Join(k.root, dir, "echogate.toml"), content)
	data, tmp := filepath.Join(k.root, "..data"), filepath.Join(k.root, "..data_tmp")
	prev, _ := os.Readlink(data)
	if err := os.Symlink(dir, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, data); err != nil {
		t.Fatal(err)
	}
	if prev != "" {
		os.RemoveAll(filepath.Join(k.root, prev))
	}
}

// pingers keeps TCP connections and a UDP client ping-ponging unique lines and counts round trips and errors.
type pingers struct {
	stop   chan struct{}
	halted sync.Once
	wg     sync.WaitGroup
	rounds []atomic.Int64 // per TCP connection; the last one is the UDP client
	errs   atomic.Int64
	mu     sync.Mutex
	first  []string
}

func (p *pingers) fail(format string, args ...any) {
	p.errs.Add(1)
	p.mu.Lock()
	if len(p.first) < 5 {
		p.first = append(p.first, fmt.Sprintf(format, args...))
	}
	p.mu.Unlock()
}

// halt stops every pinger and waits for them; it may be called more than once.
func (p *pingers) halt() {
	p.halted.Do(func() { close(p.stop) })
	p.wg.Wait()
}

func (p *pingers) pause(id int) bool {
	select {
	case <-p.stop:
		return false
	case <-time.After(time.Duration(40+id%25) * time.Millisecond):
		return true
	}
}

func (p *pingers) tcp(id int, c net.Conn) {
	defer p.wg.Done()
	pad := strings.Repeat("abcdefghij", 3)
	got := make([]byte, 64)
	for seq := 0; p.pause(id); seq++ {
		line := fmt.Sprintf("conn %03d seq %06d %s\n", id, seq, pad[:seq%31])
		c.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := io.WriteString(c, line); err != nil {
			p.fail("conn %d write: %v", id, err)
			return
		}
		if _, err := io.ReadFull(c, got[:len(line)]); err != nil || string(got[:len(line)]) != line {
			p.fail("conn %d: sent %q, got %q, %v", id, line, got[:len(line)], err)
			return
		}
		p.rounds[id].Add(1)
	}
}

func (p *pingers) udp(id int, c net.Conn) {
	defer p.wg.Done()
	got := make([]byte, 128)
	for seq := 0; p.pause(id); seq++ {
		msg := fmt.Sprintf("datagram %06d\n", seq)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, msg); err != nil {
			p.fail("udp write: %v", err)
			return
		}
		n, err := c.Read(got)
		if err != nil || string(got[:n]) != msg {
			p.fail("udp: sent %q, got %q, %v", msg, got[:n], err)
			return
		}
		p.rounds[id].Add(1)
	}
}

// awaitProgress waits until every pinger has finished a round trip after this call (no speed is asserted:
// the deadline is generous).
func (p *pingers) awaitProgress(t *testing.T) {
	t.Helper()
	base := make([]int64, len(p.rounds))
	for i := range p.rounds {
		base[i] = p.rounds[i].Load()
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := range p.rounds {
		for p.rounds[i].Load() <= base[i] && p.errs.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("pinger %d made no round trip in 20s", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// itoa is strconv.Itoa, short for building configs.
func itoa(n int) string { return strconv.Itoa(n) }
