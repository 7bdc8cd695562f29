package config

import "testing"

func TestScanKeys(t *testing.T) {
	text := `# comment = not a key
top = 1
[daemon]
  log_level = "info" # trailing
"pid_file" = "/x"

[[listener]]
name = "a"
note = """
fake = 1
[[listener]]
"""
allow = [
  "10.0.0.0/8", # x = y
]
[[ listener ]]
	name.x = 2
'quoted key' = 3
[listener.sub]
`
	ix := scanKeys(text)
	for _, tc := range []struct {
		what string
		got  pos
		want pos
	}{
		{"root key", ix.rootKey("top"), pos{2, 1}},
		{"daemon header", ix.daemonKey("missing"), pos{3, 1}},
		{"daemon key", ix.daemonKey("log_level"), pos{4, 3}},
		{"quoted daemon key", ix.daemonKey("pid_file"), pos{5, 1}},
		{"listener 0 header", ix.listenerKey(0, ""), pos{7, 1}},
		{"listener 0 key", ix.listenerKey(0, "name"), pos{8, 1}},
		{"inside multi-line string", ix.listenerKey(0, "fake"), pos{7, 1}},
		{"multi-line array", ix.listenerKey(0, "allow"), pos{13, 1}},
		{"listener 1 header", ix.listenerKey(1, ""), pos{16, 1}},
		{"dotted key", ix.listenerKey(1, "name.x"), pos{17, 2}},
		{"quoted key with space", ix.listenerKey(1, "quoted key"), pos{18, 1}},
		{"sub-table header", ix.listenerKey(1, "sub"), pos{19, 1}},
		{"no such listener", ix.listenerKey(5, "name"), pos{}},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.what, tc.got, tc.want)
		}
	}
	if n := len(ix.listeners); n != 2 {
		t.Errorf("found %d listener tables, want 2", n)
	}
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		line, key string
		ok        bool
	}{
		{"name = 1", "name", true},
		{"name=1", "name", true},
		{`"a.b" = 1`, "a.b", true},
		{"a . b = 1", "a.b", true},
		{`"10.0.0.0/8",`, "", false},
		{"]", "", false},
		{"= 1", "", false},
		{`"open = 1`, "", false},
		{"name", "", false},
	} {
		key, ok := parseKey(tc.line)
		if key != tc.key || ok != tc.ok {
			t.Errorf("parseKey(%q) = %q, %v; want %q, %v", tc.line, key, ok, tc.key, tc.ok)
		}
	}
}
