package main

import (
	"errors"
	"testing"

	"echogate/listeners"
)

func TestReloadReplies(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  reloadResult
		want string
		exit int
	}{
		{"ok", appliedResult(listeners.Result{Added: 1, Changed: 2, Kept: 3}, 4),
			"ok generation=4 added=1 removed=0 changed=2 kept=3", reloadServes},
		{"partial", appliedResult(listeners.Result{Added: 1, Kept: 1, Failed: []string{"a", "b"},
			Errors: []error{errors.New(`listener "a": epoll_ctl add: no space`), errors.New(`listener "b": x`)}}, 2),
			`partial generation=2 added=1 removed=0 changed=0 kept=1 failed=a,b error=listener "a": epoll_ctl add: no space; listener "b": x`,
			reloadRejected},
		{"rejected on several lines", refused(errors.New("e.toml:3:1: one\ne.toml:9:2: two\n")),
			"error e.toml:3:1: one; e.toml:9:2: two", reloadRejected},
		{"stopping", refused(errStopping), "error echogate is shutting down; reload ignored", reloadRejected},
		{"unchanged", reloadResult{outcome: outcomeUnchanged, generation: 3}, "ok generation=3 unchanged", reloadServes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.res.reply()
			if got != tc.want {
				t.Errorf("reply %q, want %q", got, tc.want)
			}
			if code := reloadExit(got); code != tc.exit {
				t.Errorf("exit %d, want %d", code, tc.exit)
			}
		})
	}
	for _, reply := range []string{"denied uid 65534 may not use this control socket", "busy too many", "", "{"} {
		if code := reloadExit(reply); code != reloadUnreachable {
			t.Errorf("reloadExit(%q) = %d, want %d", reply, code, reloadUnreachable)
		}
	}
}

func TestDefaultControlPath(t *testing.T) {
	for _, tc := range []struct{ key, runtimeDir, want string }{
		{"/etc/x.sock", "/run/echogate", "/etc/x.sock"},
		{"", "/run/echogate", "/run/echogate/control.sock"},
		{"", "/run/echogate:/run/other", "/run/echogate/control.sock"},
		{"", "", ""},
		{"", ":/run/other", ""},
	} {
		if got := defaultControlPath(tc.key, tc.runtimeDir); got != tc.want {
			t.Errorf("defaultControlPath(%q, %q) = %q, want %q", tc.key, tc.runtimeDir, got, tc.want)
		}
	}
}

func TestDaemonCmdline(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-config", "/etc/echogate/echogate.toml"}, "/etc/echogate/echogate.toml"},
		{[]string{"--config=e.toml", "-log-level", "debug"}, "e.toml"},
		{[]string{"-log-level", "debug", "-config", "a.toml"}, "a.toml"},
		{[]string{"-listen", "tcp://127.0.0.1:1", "-listen", "udp://127.0.0.1:1"}, ""},
		{[]string{"-log-level", "-config"}, ""}, // "-config" is the log level's value
		{[]string{"--", "-config", "x"}, ""},
	} {
		if got := flagValue(tc.args, "config"); got != tc.want {
			t.Errorf("flagValue(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
	if isEchogateRun(1, []string{"sleep", "30"}) || !isEchogateRun(1, []string{"/usr/bin/echogate", "run"}) ||
		isEchogateRun(1, []string{"/usr/bin/echogate", "check"}) {
		t.Error("isEchogateRun: wrong answer for sleep, echogate run or echogate check")
	}
}
