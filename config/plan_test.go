package config

import (
	"strings"
	"testing"
)

// TestPlanGolden runs every testdata/plan/*.txt file: old TOML, a "----- new" line, new
// TOML, then "----- plan" with the expected actions (one per line, after a "daemon:" line
// when [daemon] keys changed, each with where its socket comes from in brackets) or
// "----- error" with the expected error of the new file. Tokens come from credentials in
// testdata/plan/creds/{old,new}. A line "# systemd: a b" in the new TOML says that systemd
// passed sockets named a and b.
func TestPlanGolden(t *testing.T) {
	eachGolden(t, "testdata/plan/*.txt", func(t *testing.T, file string, data []byte) {
		oldText, rest, ok := strings.Cut(string(data), "----- new\n")
		if !ok {
			t.Fatal(`missing "----- new" line`)
		}
		newText, want := rest, ""
		for _, sep := range []string{"----- plan\n", "----- error\n"} {
			if a, b, ok := strings.Cut(rest, sep); ok {
				newText, want = a, b
			}
		}
		section, got := planOutput(t, oldText, newText)
		if writeGolden(t, file, oldText+"----- new\n"+newText+section+got) {
			return
		}
		if got != want {
			t.Errorf("got:\n%s\nwant:\n%s", got, want)
		}
	})
}

// planOutput decodes both configs and returns the golden section header and its body.
func planOutput(t *testing.T, oldText, newText string) (section, body string) {
	t.Helper()
	var old *Config // an empty old file is a first start, planned from nil as `echogate run` does
	if strings.TrimSpace(oldText) != "" {
		var err error
		if old, err = Decode("old.toml", []byte(oldText)); err != nil {
			t.Fatalf("old config: %v", err)
		}
		if err := LoadTokens(old, "testdata/plan/creds/old"); err != nil {
			t.Fatalf("old tokens: %v", err)
		}
	}
	next, err := Decode("new.toml", []byte(newText))
	if err == nil {
		err = LoadTokens(next, "testdata/plan/creds/new")
	}
	if err != nil {
		return "----- error\n", err.Error() + "\n"
	}
	var b strings.Builder
	if old != nil {
		if d := DaemonChanged(old, next); len(d) > 0 {
			b.WriteString("daemon: " + strings.Join(d, ",") + "\n")
		}
	}
	for _, a := range PlanActivated(old, next, systemdNames(newText)) {
		b.WriteString(a.String())
		if s := a.SocketString(); s != "" {
			b.WriteString(" [" + s + "]")
		}
		b.WriteString("\n")
	}
	return "----- plan\n", b.String()
}

// systemdNames reads the "# systemd: a b" line of a golden file's new TOML.
func systemdNames(text string) map[string]bool {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "# systemd:"); ok {
			names := map[string]bool{}
			for _, n := range strings.Fields(rest) {
				names[n] = true
			}
			return names
		}
	}
	return nil
}

func TestPlanFirstStart(t *testing.T) {
	cfg, err := FromListenFlags([]string{"tcp://:7007", "udp://:7007"})
	if err != nil {
		t.Fatal(err)
	}
	plan := Plan(nil, cfg)
	want := []string{"add tcp-7007", "add udp-7007"}
	if len(plan) != len(want) {
		t.Fatalf("got %v, want %v", plan, want)
	}
	for i, a := range plan {
		if a.String() != want[i] || a.New != &cfg.Listeners[i] || a.Old != nil {
			t.Errorf("action %d = %v (old %p new %p), want %s", i, a, a.Old, a.New, want[i])
		}
	}
}

func TestPlanPointers(t *testing.T) {
	old, _ := FromListenFlags([]string{"tcp://:1", "tcp://:2"})
	next, _ := FromListenFlags([]string{"tcp://:2", "tcp://:3"})
	next.Listeners[0].MaxLine = 10
	plan := Plan(old, next)
	for _, tc := range []struct {
		i        int
		str      string
		old, new *Listener
	}{
		{0, "update tcp-2: max_line", &old.Listeners[1], &next.Listeners[0]},
		{1, "add tcp-3", nil, &next.Listeners[1]},
		{2, "remove tcp-1", &old.Listeners[0], nil},
	} {
		a := plan[tc.i]
		if a.String() != tc.str || a.Old != tc.old || a.New != tc.new {
			t.Errorf("action %d = %v (old %p new %p), want %s (old %p new %p)", tc.i, a, a.Old, a.New, tc.str, tc.old, tc.new)
		}
	}
}

func TestActionString(t *testing.T) {
	for _, tc := range []struct {
		a    Action
		want string
	}{
		{Action{Kind: Keep, Name: "z"}, "keep z"},
		{Action{Kind: Add, Name: "x"}, "add x"},
		{Action{Kind: Remove, Name: "y"}, "remove y"},
		{Action{Kind: Update, Name: "diag", Changed: []string{"allow", "max_line"}}, "update diag: allow,max_line"},
		{Action{Kind: Rebind, Name: "diag", Changed: []string{"address"}}, "rebind diag: address"},
	} {
		if got := tc.a.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestDaemonChanged(t *testing.T) {
	a, b := &Config{Daemon: DefaultDaemon()}, &Config{Daemon: DefaultDaemon()}
	if got := DaemonChanged(a, b); len(got) != 0 {
		t.Errorf("identical: got %v", got)
	}
	b.Daemon.PIDFile, b.Daemon.LogLevel = "/run/x.pid", "debug"
	if got := strings.Join(DaemonChanged(a, b), ","); got != "log_level,pid_file" {
		t.Errorf("got %q", got)
	}
}
