package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestEffectiveRoundTrip checks that Effective writes every key of each listener's protocol with its source,
// and that its text decodes to the same daemon settings and listeners as the file it came from.
func TestEffectiveRoundTrip(t *testing.T) {
	example, err := os.ReadFile("../examples/echogate.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, text string
		file       []string // lines Effective must write with "# file"
		deflt      []string // and with "# default"
	}{
		{"examples/echogate.toml", string(example), []string{`name = "echo-tcp"`}, []string{`mode = "line"`}},
		{"defaults only", "[[listener]]\nname = \"a\"\nprotocol = \"udp\"\naddress = \":7\"\n",
			[]string{`address = "127.0.0.1:7"`}, []string{`max_udp_peers = 65536`, `udp_deny_source_ports = [7, 13, 17, 19, 37]`,
				`# allow (left out: every client)`, `log_level = "info"`}},
		{"max_output grows to one line", "[[listener]]\nname = \"a\"\nprotocol = \"tcp\"\naddress = \":7\"\nmax_line = 100000\n",
			[]string{`max_line = 100000`}, []string{`max_output = 100001`}},
		{"socket from systemd, daemon keys", "[daemon]\nlog_level = \"debug\"\npid_file = \"/run/e.pid\"\n" +
			"[[listener]]\nname = \"a\"\nprotocol = \"tcp\"\nallow = [\"10.0.0.0/8\"]\nadmin_allow = []\ntoken_file = \"/etc/t\"\n",
			[]string{`log_level = "debug"`, `pid_file = "/run/e.pid"`, `allow = ["10.0.0.0/8"]`, `admin_allow = []`,
				`token_file = "/etc/t"`},
			[]string{`# address (left out: the socket comes from systemd)`, `# token_credential (left out: unset)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode("in.toml", []byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			out := Effective(c)
			for _, want := range tc.file {
				hasLine(t, out, want, FromFile)
			}
			for _, want := range tc.deflt {
				hasLine(t, out, want, FromDefault)
			}
			again, err := Decode("out.toml", []byte(out))
			if err != nil {
				t.Fatalf("Effective's text does not decode: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(again.Daemon, c.Daemon) || !reflect.DeepEqual(again.Listeners, c.Listeners) {
				t.Errorf("decoded again, the config differs:\n%+v\n%+v\nfrom:\n%s", again, c, out)
			}
			for _, l := range c.Listeners {
				for _, s := range Settings(&l) {
					if !strings.Contains(out, "\n"+s.Key+" = ") && !strings.Contains(out, "\n# "+s.Key+" (left out") {
						t.Errorf("listener %q: key %s is not written", l.Name, s.Key)
					}
				}
			}
		})
	}
}

// hasLine checks that text has a line with the key and value want and the comment "# source".
func hasLine(t *testing.T, text, want, source string) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		body, comment, ok := strings.Cut(line, "   ")
		if ok && strings.TrimSpace(body) == want && strings.TrimSpace(comment) == "# "+source {
			return
		}
	}
	t.Errorf("no line %q with # %s in:\n%s", want, source, text)
}
