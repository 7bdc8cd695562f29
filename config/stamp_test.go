package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The keys of mode "stamp", and mode by protocol: each mistake is one error on its line.
func TestValidateStamp(t *testing.T) {
	stamp := udp + "mode = \"stamp\"\n"
	for _, tc := range []struct{ name, src, want string }{
		{"stamp on tcp", tcp + "mode = \"stamp\"\n", `v.toml:5:1: listener "t": mode "stamp" is a mode of udp listeners; a tcp listener's is "line", "raw" or "agent"`},
		{"agent behind PROXY", tcp + "mode = \"agent\"\nproxy_protocol = \"required\"\nproxy_allow = [\"10.0.0.0/8\"]\n",
			`v.toml:6:1: listener "t": proxy_protocol must be "off" on an agent listener (it answers the balancer itself)`},
		{"raw on udp", udp + "mode = \"raw\"\n", `v.toml:5:1: listener "u": mode "raw" is a mode of tcp listeners; a udp listener's is "echo" or "stamp"`},
		{"stamp key on echo", udp + "stamp_stateful = true\n", `v.toml:5:1: listener "u": stamp_stateful applies only to mode = "stamp" (this listener's mode is "echo")`},
		{"stamp key on tcp", tcp + "stamp_auth = \"off\"\n", `v.toml:5:1: listener "t": stamp_auth applies only to udp listeners (this one is tcp)`},
		{"required without key", stamp + "stamp_auth = \"required\"\n", `v.toml:6:1: listener "u": stamp_auth = "required" needs the HMAC key: set stamp_key_credential or stamp_key_file`},
		{"key without auth", stamp + "stamp_key_file = \"/k\"\n", `v.toml:6:1: listener "u": a STAMP key is set but stamp_auth is "off": set stamp_auth = "required" to use it`},
		{"both keys", stamp + "stamp_auth = \"required\"\nstamp_key_file = \"/k\"\nstamp_key_credential = \"k\"\n", `v.toml:7:1: listener "u": stamp_key_credential and stamp_key_file are mutually exclusive; use one`},
		{"relative key file", stamp + "stamp_auth = \"required\"\nstamp_key_file = \"k\"\n", `v.toml:7:1: listener "u": stamp_key_file "k" must be an absolute path`},
		{"bad timestamp", stamp + "stamp_timestamp = \"gps\"\n", `v.toml:6:1: listener "u": stamp_timestamp: unknown stamp timestamp "gps" (want "ntp" or "ptp")`},
		{"DSCP over 63", stamp + "stamp_dscp_allow = [0, 46, 64]\n", `v.toml:6:1: listener "u": stamp_dscp_allow: 64 is out of range (0..63)`},
		{"negative DSCP", stamp + "stamp_dscp_allow = [-1]\n", `v.toml:6:1: listener "u": stamp_dscp_allow: -1 is out of range (0..63)`},
		{"DSCPs as a string", stamp + "stamp_dscp_allow = \"46\"\n", `v.toml:6:1: listener "u": stamp_dscp_allow must be an array of DSCP values (0..63), not a TOML string`},
		{"DSCPs on echo", udp + "stamp_dscp_allow = [46]\n", `v.toml:5:1: listener "u": stamp_dscp_allow applies only to mode = "stamp" (this listener's mode is "echo")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("v.toml", []byte(tc.src))
			if got := errString(err); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if _, err := Decode("v.toml", []byte(stamp+"stamp_auth = \"required\"\nstamp_key_credential = \"k\"\nstamp_stateful = true\n")); err != nil {
		t.Errorf("a good STAMP listener: %v", err)
	}
}

// stamp_dscp_allow: left out it is every DSCP, [] is none (never re-mark), a list is sorted without repeats;
// each survives Effective's text.
func TestStampDSCPAllow(t *testing.T) {
	stamp := udp + "mode = \"stamp\"\n"
	for _, tc := range []struct {
		name, line string
		want       []uint16
	}{
		{"left out", "", DefaultStampDSCPAllow},
		{"empty", "stamp_dscp_allow = []\n", []uint16{}},
		{"a list", "stamp_dscp_allow = [46, 0, 46, 63]\n", []uint16{0, 46, 63}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode("v.toml", []byte(stamp+tc.line))
			if err != nil {
				t.Fatal(err)
			}
			again, err := Decode("e.toml", []byte(Effective(c)))
			if err != nil {
				t.Fatal(err)
			}
			for _, got := range [][]uint16{c.Listeners[0].StampDSCPAllow, again.Listeners[0].StampDSCPAllow} {
				if !slices.Equal(got, tc.want) || got == nil {
					t.Fatalf("stamp_dscp_allow = %v, want %v", got, tc.want)
				}
			}
		})
	}
	if len(DefaultStampDSCPAllow) != 64 || DefaultStampDSCPAllow[63] != 63 {
		t.Fatalf("the default is %v", DefaultStampDSCPAllow)
	}
}

// LoadTokens reads the STAMP key from its file, trimmed, like a token, and refuses a file others can read.
func TestLoadStampKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stamp.key")
	if err := os.WriteFile(path, []byte("  s3cret-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := udp + "mode = \"stamp\"\nstamp_auth = \"required\"\nstamp_key_file = \"" + path + "\"\n"
	cfg, err := Decode("v.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadTokens(cfg, ""); err != nil || cfg.Listeners[0].StampKey != "s3cret-key" {
		t.Fatalf("key %q, %v", cfg.Listeners[0].StampKey, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	err = LoadTokens(cfg, "")
	if got := errString(err); got != `v.toml:7:1: listener "u": stamp_key_file "`+path+`": mode 0644 lets others read or write it; want 0600 or stricter (chmod 600)` {
		t.Fatalf("got %s", got)
	}
	if cfg.Listeners[0].StampKey != "" {
		t.Fatal("a refused key is kept")
	}
}

// `echogate status` shows the stamp keys of a STAMP listener only.
func TestSettingsStampKeys(t *testing.T) {
	has := func(l Listener) bool {
		for _, s := range Settings(&l) {
			if s.Key == "stamp_timestamp" {
				return true
			}
		}
		return false
	}
	l := DefaultListener("u", UDP, "127.0.0.1:7")
	if has(l) {
		t.Error("an echo listener shows stamp_timestamp")
	}
	if l.Mode = ModeStamp; !has(l) {
		t.Error("a STAMP listener does not show stamp_timestamp")
	}
}
