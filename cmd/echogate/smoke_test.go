package main

import "testing"

func TestSmokeEcho(t *testing.T) {
	d := startDaemon(t, `
[[listener]]
name = "diag"
protocol = "tcp"
address = "127.0.0.1:0"
`)
	c := dialTCP(t, d.addr("diag"))
	roundTrip(t, c, "hello\r\n", "hello\r\n")
	if err := d.stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}
