package main

import (
	"strings"
	"testing"
	"time"

	"echogate/internal/echotest"
)

func TestSmokeEcho(t *testing.T) {
	d := echotest.Start(t, echotest.TCP("diag"))
	c := echotest.DialTCP(t, d.Addr("diag"))
	echotest.RoundTrip(t, c, "hello\r\n", "hello\r\n")
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// The loop's own timer writes a stats line every stats_interval, and "0s" turns it off.
func TestPeriodicStatsLine(t *testing.T) {
	t.Parallel()
	d := echotest.Start(t, echotest.DaemonTOML(`stats_interval = "1s"`)+
		echotest.TCP("diag"))
	c := echotest.DialTCP(t, d.Addr("diag"))
	echotest.RoundTrip(t, c, "counted\n", "counted\n")
	line, err := d.WaitLog("msg=stats total_clients=1 tcp_connected=1", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "lines=1") {
		t.Errorf("stats line %q does not count the echoed line", line)
	}

	off := echotest.Start(t, echotest.DaemonTOML(`stats_interval = "0s"`)+
		echotest.TCP("diag"))
	time.Sleep(2500 * time.Millisecond)
	if line, err := off.WaitLog("msg=stats", 10*time.Millisecond); err == nil {
		t.Errorf("stats_interval = \"0s\" still logs: %s", line)
	}
}
