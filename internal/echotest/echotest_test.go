package echotest

import (
	"os/exec"
	"testing"
	"time"
)

func TestListenerTOML(t *testing.T) {
	for _, tc := range []struct {
		name, got, want string
	}{
		{"tcp", TCPListener("a", "127.0.0.1:0", "max_line = 8"),
			"\n[[listener]]\nname = \"a\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\nmax_line = 8\n"},
		{"unbound", UnboundListener("web", "udp"), "\n[[listener]]\nname = \"web\"\nprotocol = \"udp\"\n"},
		{"daemon", DaemonTOML(`drain_timeout = "1s"`, "log_level = \"info\""),
			"[daemon]\ndrain_timeout = \"1s\"\nlog_level = \"info\"\n"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestLogDuration(t *testing.T) {
	for _, tc := range []struct {
		line, key string
		want      time.Duration
		ok        bool
	}{
		{"level=INFO msg=reload result=ok took=1.5ms kept=1", "took", 1500 * time.Microsecond, true},
		{"level=INFO msg=reload took=2s", "took", 2 * time.Second, true},
		{"level=INFO msg=reload took=soon", "took", 0, false},
		{"level=INFO msg=reload mistook=1s", "took", 0, false},
	} {
		got, ok := LogDuration(tc.line, tc.key)
		if got != tc.want || ok != tc.ok {
			t.Errorf("LogDuration(%q, %q) = %v, %v; want %v, %v", tc.line, tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func TestListenUDP(t *testing.T) {
	for _, local := range []string{"127.0.0.1", "127.0.0.1:0", "::1"} {
		u, err := ListenUDPErr(t, local)
		if err != nil {
			t.Logf("%s: %v (no such address here)", local, err)
			continue
		}
		SendUDP(t, u, u.LocalAddr().String(), "to myself")
		if got, ok := RecvUDP(t, u, 5*time.Second); !ok || got != "to myself" {
			t.Errorf("%s: got %q, %v", local, got, ok)
		}
	}
	if _, err := ListenUDPErr(t, "not an address"); err == nil {
		t.Error("ListenUDPErr accepted a bad address")
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"kill -9 $$", -1}, // ended by a signal, not by an exit
	} {
		if got := ExitCode(exec.Command("sh", "-c", tc.script).Run()); got != tc.want {
			t.Errorf("%s: ExitCode = %d, want %d", tc.script, got, tc.want)
		}
	}
}
