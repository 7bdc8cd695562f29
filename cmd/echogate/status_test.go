package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
	"echogate/listeners"
)

// fileSHA256 is the hex SHA-256 of the file at path.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// listenerIn finds the named listener in a status report.
func listenerIn(t *testing.T, rep statusReport, name string) listenerStatus {
	t.Helper()
	for _, l := range rep.Listeners {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no listener %q in the status: %+v", name, rep.Listeners)
	return listenerStatus{}
}

// checkDaemonFields checks that /stats json names the same running config as the status.
func checkDaemonFields(t *testing.T, s listeners.Snapshot, rep statusReport) {
	t.Helper()
	got := []any{s.Version, s.StartedAt, s.Generation, s.ConfigSHA256, s.LoadedAt}
	want := []any{rep.Version, rep.StartedAt, rep.Generation, rep.ConfigSHA256, rep.LoadedAt}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("/stats json version, started_at, generation, config_sha256, loaded_at: %v; the status says %v",
			got, want)
	}
}

// `echogate status -json` and /stats json say which config runs: generation, the file's SHA-256 and when it
// was loaded change with a reload; every listener shows where it is bound, its effective settings and its
// counters, and never its token.
func TestStatusAcrossReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock := filepath.Join(dir, "control.sock")
	tok := pWriteToken(t, dir, "shutdown.token", pToken+"\n", 0o600)
	cfg := func(maxConns int) string {
		return controlTOML(sock) + echotest.TCPListener("x", "127.0.0.1:0", fmt.Sprintf("max_conns = %d", maxConns),
			fmt.Sprintf("token_file = %q", tok)) + "\n[[listener]]\nname = \"u\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:0\"\n"
	}
	d := echotest.Start(t, cfg(1024))
	c := echotest.DialTCP(t, d.Addr("x"))
	echotest.RoundTrip(t, c, "hello\n", "hello\n")

	before, raw := askStatus(t, sock)
	x := listenerIn(t, before, "x")
	switch {
	case before.Generation != 1 || before.ConfigSHA256 != fileSHA256(t, d.Config) || before.Config != d.Config:
		t.Errorf("at start: generation %d, config %q sha256 %q", before.Generation, before.Config, before.ConfigSHA256)
	case before.PID != d.Pid() || before.Version == "" || before.LastReload != nil:
		t.Errorf("at start: pid %d version %q last reload %+v", before.PID, before.Version, before.LastReload)
	case parseTime(before.StartedAt).IsZero() || parseTime(before.LoadedAt).IsZero():
		t.Errorf("at start: started_at %q loaded_at %q", before.StartedAt, before.LoadedAt)
	case x.Address != d.Addr("x") || x.Protocol != "tcp" || x.Settings["max_conns"] != float64(1024) ||
		x.Settings["idle_timeout"] != "5m0s" || x.Settings["token_set"] != true:
		t.Errorf("listener x: %+v", x)
	case x.Counters.Accepted != 1 || x.Counters.Lines != 1 || x.Open != 1:
		t.Errorf("listener x counters: open %d %+v", x.Open, x.Counters)
	case listenerIn(t, before, "u").Settings["max_datagram"] != float64(65535):
		t.Errorf("listener u: %+v", listenerIn(t, before, "u"))
	}
	checkDaemonFields(t, echotest.StatsOn(t, c), before)

	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, cfg(50))
	d.AwaitReload(t, mark)
	after, rawAfter := askStatus(t, sock)
	switch {
	case after.Generation != 2 || after.ConfigSHA256 != fileSHA256(t, d.Config) || after.ConfigSHA256 == before.ConfigSHA256:
		t.Errorf("after the reload: generation %d, sha256 %q (was %q)", after.Generation, after.ConfigSHA256, before.ConfigSHA256)
	case !parseTime(after.LoadedAt).After(parseTime(before.LoadedAt)) || after.StartedAt != before.StartedAt:
		t.Errorf("after the reload: loaded_at %q (was %q), started_at %q", after.LoadedAt, before.LoadedAt, after.StartedAt)
	case after.LastReload == nil || after.LastReload.Result != "ok" || after.LastReload.Generation != 2:
		t.Errorf("after the reload: last reload %+v", after.LastReload)
	case listenerIn(t, after, "x").Settings["max_conns"] != float64(50):
		t.Errorf("after the reload: listener x %+v", listenerIn(t, after, "x"))
	}
	checkDaemonFields(t, echotest.StatsOn(t, c), after)

	out, errOut, code := echotest.RunCLIWith(t, nil, nil, "status", "-control", sock)
	if code != 0 || !strings.Contains(out, "max_conns=50") || !strings.Contains(out, d.Addr("x")) {
		t.Errorf("status table: exit %d\n%s%s", code, out, errOut)
	}
	for _, s := range []string{raw, rawAfter, out} {
		if strings.Contains(s, pToken) || strings.Contains(s, tok) {
			t.Errorf("the status shows the token or its file: %s", s)
		}
	}
}

// The reload log line of a changed listener names each key with its old and new value; a changed token is
// only named.
func TestReloadLogNamesOldAndNewValues(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tok := pWriteToken(t, dir, "shutdown.token", pToken+"\n", 0o600)
	tokenLine := fmt.Sprintf("token_file = %q", tok)
	d := echotest.Start(t, echotest.TCPListener("x", "127.0.0.1:0", tokenLine))
	pWriteToken(t, dir, "shutdown.token", pWrongToken+"\n", 0o600)
	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, echotest.TCPListener("x", "127.0.0.1:0", tokenLine, "max_conns = 50",
		`idle_timeout = "30s"`, `allow = ["127.0.0.0/8"]`))
	d.AwaitReload(t, mark)
	line, err := d.WaitLogAfter(mark, "action=update listener=x", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := `changed="allow any→[127.0.0.0/8], idle_timeout 5m0s→30s, max_conns 1024→50, token changed"`
	if !strings.Contains(line, want) {
		t.Errorf("reload log line %s\nwant %s", line, want)
	}
	d.ExpectNotLogged(t, pToken, pWrongToken)
}
