package main

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// TestLogDurationsReadable checks that durations are written the same readable way in the JSON and text
// formats: the reload line's took and the shutdown line's grace, as "1.2ms" and "3s", never as nanoseconds.
func TestLogDurationsReadable(t *testing.T) {
	t.Parallel()
	grace := map[string]string{}
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			d := echotest.Start(t, echotest.DaemonTOML(`shutdown_grace = "3s"`)+echotest.TCPListener("a", "127.0.0.1:0"),
				echotest.Options{Args: []string{"-log-format", format}})
			d.Signal(syscall.SIGHUP)
			reload := logAttrs(t, d, format, `result`)
			d.Signal(syscall.SIGTERM)
			stop := logAttrs(t, d, format, `grace`)
			if took, err := time.ParseDuration(reload["took"]); err != nil || took <= 0 {
				t.Errorf("%s reload line: took=%q is not a readable duration", format, reload["took"])
			}
			grace[format] = stop["grace"]
		})
	}
	if grace["json"] != "3s" || grace["text"] != "3s" {
		t.Errorf("grace is %q in JSON and %q in text; want 3s in both", grace["json"], grace["text"])
	}
}

// logAttrs waits for the daemon's line holding the attribute key and returns its attributes as text.
func logAttrs(t *testing.T, d *echotest.Daemon, format, key string) map[string]string {
	t.Helper()
	want := key + "="
	if format == "json" {
		want = `"` + key + `":`
	}
	line, err := d.WaitLog(want, 10*time.Second)
	if err != nil {
		t.Fatalf("no log line with %s: %v\n%s", key, err, strings.Join(d.Lines(), "\n"))
	}
	attrs := map[string]string{}
	if format == "json" {
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, line)
		}
		for k, v := range raw {
			s, ok := v.(string)
			if !ok {
				b, _ := json.Marshal(v)
				s = string(b)
			}
			attrs[k] = s
		}
		return attrs
	}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok {
			attrs[k] = strings.Trim(v, `"`)
		}
	}
	return attrs
}
