package config

import "testing"

// TestParseValues checks the value parsers: what each accepts, written back, and what each refuses.
func TestParseValues(t *testing.T) {
	cidr := func(s string) (string, error) { p, err := parseCIDR(s); return p.String(), err }
	duration := func(s string) (string, error) { d, err := parseDuration(s); return d.String(), err }
	for _, tc := range []struct {
		parse         func(string) (string, error)
		in, want, err string
	}{
		{cidr, "10.0.0.0/8", "10.0.0.0/8", ""},
		{cidr, "10.0.0.1", "10.0.0.1/32", ""},
		{cidr, "::1", "::1/128", ""},
		{cidr, "::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104", ""},
		{cidr, "0.0.0.0/0", "0.0.0.0/0", ""},
		{cidr, "10.0.0.1/8", "", `CIDR "10.0.0.1/8" has host bits set (did you mean "10.0.0.0/8"?)`},
		{cidr, "fe80::1%eth0", "", `bad CIDR "fe80::1%eth0" (want e.g. "10.0.0.0/8" or "::1/128")`},
		{cidr, "example.com", "", `bad CIDR "example.com" (want e.g. "10.0.0.0/8" or "::1/128")`},
		{cidr, "", "", `bad CIDR "" (want e.g. "10.0.0.0/8" or "::1/128")`},
		{duration, "5s", "5s", ""},
		{duration, "0s", "0s", ""},
		{duration, "1h30m", "1h30m0s", ""},
		{duration, "1.5s", "1.5s", ""},
		{duration, "5", "", `missing unit in duration "5" (write e.g. "5s")`},
		{duration, "", "", `empty duration (write e.g. "30s")`},
		{duration, "-1s", "", `duration "-1s" must not be negative`},
		{duration, "5 s", "", `bad duration "5 s" (write e.g. "30s", "5m", "1h30m")`},
		{duration, "1e3", "", `bad duration "1e3" (write e.g. "30s", "5m", "1h30m")`},
	} {
		got, err := tc.parse(tc.in)
		if err != nil {
			got = ""
		}
		if got != tc.want || errString(err) != tc.err {
			t.Errorf("%q = %q, %v; want %q, %s", tc.in, got, err, tc.want, tc.err)
		}
	}
}
