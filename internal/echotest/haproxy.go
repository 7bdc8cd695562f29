package echotest

import (
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// HAProxy is a haproxy process under test, run in the foreground on a config of the test's, with an admin
// stats socket; it is killed when the test ends.
type HAProxy struct {
	t    *testing.T
	sock string
	cmd  *exec.Cmd
	log  *strings.Builder
}

// StartHAProxy runs `haproxy -db` on the global, defaults and the given sections (backends), or skips the test
// when haproxy is not installed (.ci/run installs Debian's haproxy).
func StartHAProxy(t *testing.T, sections string) *HAProxy {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install haproxy; .ci/run installs it)")
	}
	dir := t.TempDir()
	h := &HAProxy{t: t, sock: filepath.Join(dir, "stats.sock"), log: &strings.Builder{}}
	cfg := fmt.Sprintf("global\n    stats socket %s mode 600 level admin\n"+
		"defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n%s",
		h.sock, sections)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	h.cmd = exec.Command(bin, "-db", "-f", path)
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = h.cmd.Process.Kill()
		_ = h.cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy log:\n%s", h.log.String())
		}
	})
	return h
}

// Stat returns the fields of `show stat` for server of backend (status, weight, last_agt, ...), or nil when
// the stats socket does not answer yet.
func (h *HAProxy) Stat(backend, server string) map[string]string {
	c, err := net.DialTimeout("unix", h.sock, time.Second)
	if err != nil {
		return nil
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil
	}
	r := csv.NewReader(c)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return nil
	}
	header := rows[0]
	header[0] = strings.TrimPrefix(header[0], "# ")
	for _, row := range rows[1:] {
		if len(row) > 1 && row[0] == backend && row[1] == server {
			m := map[string]string{}
			for i, name := range header {
				if i < len(row) {
					m[name] = row[i]
				}
			}
			return m
		}
	}
	return nil
}

// WaitStatus waits up to 10 s for the server's status in `show stat` to start with want ("UP", "DRAIN",
// "DOWN", "MAINT") and returns its fields.
func (h *HAProxy) WaitStatus(backend, server, want string) map[string]string {
	h.t.Helper()
	return h.WaitFor(backend, server, "status "+want, func(st map[string]string) bool {
		return strings.HasPrefix(st["status"], want)
	})
}

// WaitFor waits up to 10 s for the server's fields in `show stat` to satisfy ok, and returns them.
func (h *HAProxy) WaitFor(backend, server, what string, ok func(map[string]string) bool) map[string]string {
	h.t.Helper()
	var last map[string]string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if last = h.Stat(backend, server); last != nil && ok(last) {
			return last
		}
	}
	h.t.Fatalf("haproxy %s/%s: want %s; status %q, weight %q, last_agt %q, last_chk %q", backend, server, what,
		last["status"], last["weight"], last["last_agt"], last["last_chk"])
	return nil
}
