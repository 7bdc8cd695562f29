package config

import "testing"

func TestParseCIDR(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"10.0.0.1", "10.0.0.1/32", ""},
		{"::1", "::1/128", ""},
		{"::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104", ""},
		{"0.0.0.0/0", "0.0.0.0/0", ""},
		{"10.0.0.1/8", "", `CIDR "10.0.0.1/8" has host bits set (did you mean "10.0.0.0/8"?)`},
		{"fe80::1%eth0", "", `bad CIDR "fe80::1%eth0" (want e.g. "10.0.0.0/8" or "::1/128")`},
		{"example.com", "", `bad CIDR "example.com" (want e.g. "10.0.0.0/8" or "::1/128")`},
		{"", "", `bad CIDR "" (want e.g. "10.0.0.0/8" or "::1/128")`},
	} {
		p, err := parseCIDR(tc.in)
		got := ""
		if err == nil {
			got = p.String()
		}
		if got != tc.want || errString(err) != tc.err {
			t.Errorf("parseCIDR(%q) = %q, %v; want %q, %s", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestDurationText(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"5s", ""},
		{"0s", ""},
		{"1h30m", ""},
		{"1.5s", ""},
		{"5", `missing unit in duration "5" (write e.g. "5s")`},
		{"", `empty duration (write e.g. "30s")`},
		{"-1s", `duration "-1s" must not be negative`},
		{"5 s", `bad duration "5 s" (write e.g. "30s", "5m", "1h30m")`},
		{"1e3", `bad duration "1e3" (write e.g. "30s", "5m", "1h30m")`},
	} {
		if _, err := parseDuration(tc.in); errString(err) != tc.err {
			t.Errorf("%q: got %v, want %s", tc.in, err, tc.err)
		}
	}
}
