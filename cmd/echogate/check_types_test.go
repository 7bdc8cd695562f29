package main

import (
	"regexp"
	"testing"

	"echogate/internal/echotest"
)

// TestCheckValueTypes gives keys values of the wrong TOML type: each error names the type wanted and the
// type written, and a bad [daemon] value does not hide the errors of the other [daemon] keys.
func TestCheckValueTypes(t *testing.T) {
	t.Parallel()
	path := echotest.WriteConfig(t, `[daemon]
log_level = 1
control_socket = "run/echogate.sock"

[[listener]]
name = "a"
protocol = "tcp"
address = "127.0.0.1:0"
mode = true
idle_timeout = 1.5
allow = [["10.0.0.0/8"]]
`)
	q := regexp.QuoteMeta
	matchLines(t, path, checkFails(t, path), [][2]string{
		{"2", q(`log_level must be debug, info, warn or error, not a TOML integer`)},
		{"3", q(`control_socket "run/echogate.sock" must be an absolute path`)},
		{"9", q(`listener "a": mode must be "line", "raw", "agent", "echo" or "stamp", not a TOML boolean`)},
		{"10", q(`listener "a": idle_timeout must be a duration string like "5m", not a TOML float`)},
		{"11", q(`listener "a": allow must be an array of CIDR strings, not a TOML array`)},
	})
}
