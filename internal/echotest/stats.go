package echotest

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"testing"
	"time"

	"echogate/listeners"
)

// StatsOn asks for `/stats json` on c, which must have nothing else in flight, and decodes the reply into the
// daemon's own type, so that a test reads what it serves.
func StatsOn(t *testing.T, c net.Conn) listeners.Snapshot {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "/stats json\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReaderSize(c, 64<<10).ReadString('\n')
	if err != nil {
		t.Fatalf("/stats json: %v (got %q)", err, line)
	}
	var s listeners.Snapshot
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatalf("/stats json: %v in %q", err, line)
	}
	return s
}

// Stats asks a TCP listener with commands for `/stats json` on a fresh connection.
func Stats(t *testing.T, addr string) listeners.Snapshot {
	t.Helper()
	c, err := DialErr(addr, DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return StatsOn(t, c)
}

// WaitStats polls `/stats json` on addr until ok accepts it (10 s at most) and returns that reply; what says
// in the failure what was awaited.
func WaitStats(t *testing.T, addr, what string, ok func(listeners.Snapshot) bool) listeners.Snapshot {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := Stats(t, addr)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("/stats json never showed %s: %+v", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Reloads returns the daemon's reloads_ok and reloads_failed counters, from `/stats json` on addr: how many
// reloads were applied whole and how many were rejected (or applied in part) since the daemon started.
func Reloads(t *testing.T, addr string) (ok, failed uint64) {
	t.Helper()
	s := Stats(t, addr)
	return s.ReloadsOK, s.ReloadsFailed
}
