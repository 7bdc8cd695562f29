package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"echogate/internal/echotest"
)

// TestStartupFailureLeavesNothing starts the daemon on configs that fail at each step of its start (a
// listener's address, the control socket, the HTTP endpoint): each run exits 1 with the cause, never says it
// is ready, and leaves no pid file or control socket behind.
func TestStartupFailureLeavesNothing(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	busy := held.Addr().String()
	for _, tc := range []struct {
		name    string
		daemon  []string // [daemon] lines besides pid_file and control_socket
		listen  string   // the second listener's address
		control string   // the control socket's directory below the test's; "" for the test's own
		want    string
	}{
		{"a listener's address is in use", nil, busy, "", "address already in use"},
		{"the control socket's directory is missing", nil, "127.0.0.1:0", "missing", "control_socket"},
		{"the HTTP address is in use", []string{fmt.Sprintf("http = %q", busy)}, "127.0.0.1:0", "",
			"[daemon] http " + busy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "echogate.pid")
			sock := filepath.Join(dir, tc.control, "control.sock")
			lines := append([]string{fmt.Sprintf("pid_file = %q", pidFile), fmt.Sprintf("control_socket = %q", sock)},
				tc.daemon...)
			path := echotest.WriteConfig(t, echotest.DaemonTOML(lines...)+echotest.TCP("first")+
				echotest.TCPListener("second", tc.listen))
			_, stderr, code := echotest.RunCLI(t, "run", "-config", path, "-log-format", "text")
			if code != 1 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "echogate stopped") {
				t.Fatalf("exit %d, want 1 and %q in:\n%s", code, tc.want, stderr)
			}
			if strings.Contains(stderr, "msg=ready") {
				t.Fatalf("said it was ready:\n%s", stderr)
			}
			for _, left := range []string{pidFile, sock} {
				if _, err := os.Lstat(left); !os.IsNotExist(err) {
					t.Errorf("%s left behind (%v)", left, err)
				}
			}
		})
	}
}
