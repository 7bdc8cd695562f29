package listeners

import "testing"

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		line, name, arg string
		ok              bool
	}{
		{"/time\n", "time", "", true},
		{"/time\r\n", "time", "", true},
		{"/stats json\n", "stats", "json", true},
		{"/shutdown   s3cret  \r\n", "shutdown", "s3cret", true},
		{"/shutdown\ttok en\n", "shutdown", "tok en", true},
		{"/Time\n", "Time", "", true},
		{"/\n", "", "", true},
		{"/stats", "stats", "", true},
		{"/x\r\r\n", "x", "", true},
		{"time\n", "", "", false},
		{"", "", "", false},
	} {
		cmd, ok := ParseCommand([]byte(tc.line))
		if ok != tc.ok || string(cmd.Name) != tc.name || string(cmd.Arg) != tc.arg {
			t.Errorf("ParseCommand(%q) = %q %q %v, want %q %q %v", tc.line, cmd.Name, cmd.Arg, ok, tc.name, tc.arg, tc.ok)
		}
	}
}

// FuzzParseCommand checks that any line parses without panicking and that the name holds no white space.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/time\n", "/stats json\r\n", "/shutdown tok\n", "/\n", "/ \t\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		cmd, ok := ParseCommand(line)
		if !ok {
			return
		}
		for _, b := range cmd.Name {
			if isSpace(b) {
				t.Fatalf("name %q holds white space", cmd.Name)
			}
		}
		if len(cmd.Arg) > 0 && (isSpace(cmd.Arg[0]) || isSpace(cmd.Arg[len(cmd.Arg)-1])) {
			t.Fatalf("arg %q not trimmed", cmd.Arg)
		}
	})
}
