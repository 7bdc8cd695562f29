package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"echogate/internal/testcert"
)

func TestTLSSources(t *testing.T) {
	for _, tc := range []struct {
		name, keys, err string
	}{
		{"files", `tls_cert_file = "/c.pem"` + "\n" + `tls_key_file = "/k.pem"`, ""},
		{"credentials", `tls_cert_credential = "c"` + "\n" + `tls_key_credential = "k"`, ""},
		{"mTLS", `tls_cert_file = "/c.pem"` + "\n" + `tls_key_file = "/k.pem"` + "\n" +
			`tls_client_ca_file = "/ca.pem"` + "\n" + `tls_client_auth = "require"`, ""},
		{"cert alone", `tls_cert_file = "/c.pem"`, `t.toml:4:1: listener "t": tls_cert_file needs tls_key_file or tls_key_credential`},
		{"key alone", `tls_key_credential = "k"`, `t.toml:4:1: listener "t": tls_key_credential needs tls_cert_file or tls_cert_credential`},
		{"both cert sources", `tls_cert_file = "/c.pem"` + "\n" + `tls_cert_credential = "c"` + "\n" + `tls_key_file = "/k.pem"`,
			`t.toml:5:1: listener "t": tls_cert_file and tls_cert_credential are mutually exclusive; use one`},
		{"relative path", `tls_cert_file = "c.pem"` + "\n" + `tls_key_file = "/k.pem"`,
			`t.toml:4:1: listener "t": tls_cert_file "c.pem" must be an absolute path`},
		{"bad credential name", `tls_cert_file = "/c.pem"` + "\n" + `tls_key_credential = "../k"`,
			`t.toml:5:1: listener "t": tls_key_credential "../k" must be a file name in $CREDENTIALS_DIRECTORY (no '/', not "." or "..")`},
		{"require without CA", `tls_cert_file = "/c.pem"` + "\n" + `tls_key_file = "/k.pem"` + "\n" + `tls_client_auth = "require"`,
			`t.toml:6:1: listener "t": tls_client_auth "require" needs tls_client_ca_file or tls_client_ca_credential, the CAs that sign client certificates`},
		{"CA without client auth", `tls_cert_file = "/c.pem"` + "\n" + `tls_key_file = "/k.pem"` + "\n" + `tls_client_ca_file = "/ca.pem"`,
			`t.toml:6:1: listener "t": tls_client_ca_file is set but tls_client_auth is "none": set it to "request" or "require"`},
		{"TLS key on a plain listener", `tls_min_version = "1.3"`,
			`t.toml:4:1: listener "t": tls_min_version applies only to a TLS listener (one with tls_cert_file or tls_cert_credential)`},
		{"unknown version", `tls_cert_file = "/c.pem"` + "\n" + `tls_key_file = "/k.pem"` + "\n" + `tls_min_version = "1.1"`,
			`t.toml:6:1: listener "t": tls_min_version: unknown tls min version "1.1" (want "1.2" or "1.3")`},
		{"version as a float", `tls_cert_file = "/c.pem"` + "\n" + `tls_key_file = "/k.pem"` + "\n" + `tls_min_version = 1.3`,
			`t.toml:6:1: listener "t": tls_min_version must be "1.2" or "1.3", not a TOML float`},
		{"short handshake timeout", `tls_cert_file = "/c.pem"` + "\n" + `tls_key_file = "/k.pem"` + "\n" + `tls_handshake_timeout = "10ms"`,
			`t.toml:6:1: listener "t": tls_handshake_timeout must be at least 100ms`},
		{"PROXY before TLS", `tls_cert_file = "/c.pem"` + "\n" + `tls_key_file = "/k.pem"` + "\n" +
			`proxy_protocol = "optional"` + "\n" + `proxy_allow = ["10.0.0.0/8"]`,
			`t.toml:6:1: listener "t": proxy_protocol must be "off" on a TLS listener (PROXY before TLS is not supported yet)`},
		{"on UDP", "", ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proto := "tcp"
			keys := tc.keys
			if tc.name == "on UDP" {
				proto, keys = "udp", `tls_cert_file = "/c.pem"`
				tc.err = `t.toml:4:1: listener "t": tls_cert_file applies only to tcp listeners (this one is udp)`
			}
			src := "[[listener]]\nname = \"t\"\nprotocol = \"" + proto + "\"\n" + keys + "\naddress = \"127.0.0.1:0\"\n"
			_, err := Decode("t.toml", []byte(src))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.err {
				t.Errorf("got  %q\nwant %q", got, tc.err)
			}
		})
	}
}

func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "test CA")
	cert, key := ca.Server(t, "server").Write(t, dir, "server")
	_, otherKey := ca.Server(t, "other").Write(t, dir, "other")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	openKey := filepath.Join(dir, "open.key")
	data, _ := os.ReadFile(key)
	if err := os.WriteFile(openKey, data, 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "creds")
	if err := os.Mkdir(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, "k"), data, 0o444); err != nil { // systemd's to protect
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, keys, err string
		mtls            bool
	}{
		{"files", "tls_cert_file = %q\ntls_key_file = %q", "", false},
		{"key credential", "tls_cert_file = %q\ntls_key_credential = \"k\"", "", false},
		{"client CA", "tls_cert_file = %q\ntls_key_file = %q\ntls_client_ca_file = %q\ntls_client_auth = \"request\"", "", true},
		{"key others can read", "tls_cert_file = %q\ntls_key_file = %q", `t.toml:5:1: listener "t": tls_key_file "` +
			openKey + `": mode 0644 lets others read or write it; want 0600 or stricter (chmod 600)`, false},
		{"key of another certificate", "tls_cert_file = %q\ntls_key_file = %q", `t.toml:5:1: listener "t": tls_key_file "` +
			otherKey + `": the private key does not match the certificate's public key`, false},
		{"garbage certificate", "tls_cert_file = %q\ntls_key_file = %q", `t.toml:4:1: listener "t": tls_cert_file "` +
			garbage + `": certificate 1 of the chain: x509: malformed certificate`, false},
		{"missing certificate", "tls_cert_file = %q\ntls_key_file = %q", `t.toml:4:1: listener "t": tls_cert_file "` +
			dir + `/none.pem": open: no such file or directory`, false},
		{"CA file without a certificate", "tls_cert_file = %q\ntls_key_file = %q\ntls_client_ca_file = %q\ntls_client_auth = \"require\"",
			`t.toml:6:1: listener "t": tls_client_ca_file "` + key + `": no PEM certificate in it`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []any{cert, key, caFile}
			switch tc.name {
			case "key others can read":
				args[1] = openKey
			case "key of another certificate":
				args[1] = otherKey
			case "garbage certificate":
				args[0] = garbage
			case "missing certificate":
				args[0] = filepath.Join(dir, "none.pem")
			case "CA file without a certificate":
				args[2] = key
			case "key credential":
				args = args[:1]
			}
			keys := tc.keys
			for _, a := range args {
				keys = strings.Replace(keys, "%q", `"`+a.(string)+`"`, 1)
			}
			src := "[[listener]]\nname = \"t\"\nprotocol = \"tcp\"\n" + keys + "\naddress = \"127.0.0.1:0\"\n"
			cfg, err := Decode("t.toml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			err = LoadTLS(cfg, creds)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.err {
				t.Fatalf("got  %q\nwant %q", got, tc.err)
			}
			m := cfg.Listeners[0].TLS
			if tc.err != "" {
				if m != nil {
					t.Error("TLS material kept after an error")
				}
				return
			}
			if m == nil || len(m.Certificate.Certificate) != 2 || (m.ClientCAs != nil) != tc.mtls {
				t.Fatalf("material %+v", m)
			}
		})
	}
}

// TestTLSFilesChanged checks that re-read files that differ make a reload update the listener, as a token
// does, although no key of the file changed.
func TestTLSFilesChanged(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "test CA")
	cert, key := ca.Server(t, "one").Write(t, dir, "server")
	src := "[[listener]]\nname = \"t\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n" +
		"tls_cert_file = \"" + cert + "\"\ntls_key_file = \"" + key + "\"\n"
	load := func() *Config {
		cfg, err := Decode("t.toml", []byte(src))
		if err == nil {
			err = LoadTLS(cfg, "")
		}
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	old, same := load(), load()
	if a := Plan(old, same); a[0].Kind != Keep {
		t.Fatalf("same files: %v", a[0])
	}
	ca.Server(t, "two").Write(t, dir, "server")
	plan := Plan(old, load())
	if plan[0].Kind != Update || strings.Join(plan[0].Changed, ",") != "tls_files" {
		t.Fatalf("renewed certificate: %v", plan[0])
	}
	if d := ListenerDiff(old.Listeners[0].ptr(), load().Listeners[0].ptr()); len(d) != 1 || d[0].String() != "tls files changed" {
		t.Fatalf("diff %v", d)
	}
}

func (l Listener) ptr() *Listener { return &l }
