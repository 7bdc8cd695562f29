package config

import (
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary text to Decode: it must never panic, must fail only with an
// *Error, and whatever it accepts must satisfy the invariants the daemon relies on.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(tcp + udp))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Decode("fuzz.toml", data)
		if err != nil {
			mustErrors(t, err)
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted, then Validate: %v", err)
		}
		checkInvariants(t, cfg)
		for _, a := range Plan(cfg, cfg) {
			if a.Kind != Keep {
				t.Fatalf("plan against itself: %v", a)
			}
		}
		for _, a := range Plan(nil, cfg) {
			if a.Kind != Add {
				t.Fatalf("first plan: %v", a)
			}
		}
		again, err := Decode("fuzz.toml", data)
		if err != nil || !reflect.DeepEqual(again.Listeners, cfg.Listeners) || !reflect.DeepEqual(again.Daemon, cfg.Daemon) {
			t.Fatalf("second decode differs: %v", err)
		}
	})
}

func checkInvariants(t *testing.T, cfg *Config) {
	t.Helper()
	names := map[string]bool{}
	for _, l := range cfg.Listeners {
		if !nameRE.MatchString(l.Name) || names[l.Name] {
			t.Fatalf("bad or repeated name %q", l.Name)
		}
		names[l.Name] = true
		if l.Address != "" {
			if n, err := normalizeAddress(l.Address); err != nil || n != l.Address {
				t.Fatalf("%s: address %q not normalised (%q, %v)", l.Name, l.Address, n, err)
			}
			if _, err := l.AddrPort(); err != nil {
				t.Fatalf("%s: AddrPort: %v", l.Name, err)
			}
		}
		if l.Allow != nil && len(l.Allow) == 0 {
			t.Fatalf("%s: empty allow list accepted", l.Name)
		}
		switch l.Protocol {
		case TCP:
			ok := (l.Mode == ModeLine || l.Mode == ModeRaw) && l.MaxLine >= 1 && l.MaxLine <= MaxLineLimit &&
				l.MaxConns >= 1 && l.Backlog >= 1 && l.MaxOutput >= 1 && l.MaxOutput <= MaxOutputLimit &&
				(l.Mode == ModeRaw || l.MaxOutput > l.MaxLine) && l.IdleTimeout >= 0 &&
				l.MaxDatagram == 0 && l.MaxUDPPeers == 0 && l.UDPDenySources == nil && l.RateDatagrams == 0 &&
				l.StampAuth == "" && l.StampKey == ""
			if !ok {
				t.Fatalf("bad tcp listener %+v", l)
			}
		case UDP:
			ok := l.MaxDatagram >= 1 && l.MaxDatagram <= MaxDatagramLimit && l.MaxUDPPeers >= 1 &&
				(l.Mode == ModeEcho || l.Mode == ModeStamp) && l.MaxLine == 0 && l.MaxConns == 0 && l.MaxOutput == 0 && l.AdminAllow == nil &&
				l.TokenCredential == "" && l.TokenFile == "" && l.RateLines == 0
			if !ok {
				t.Fatalf("bad udp listener %+v", l)
			}
		default:
			t.Fatalf("bad protocol %q", l.Protocol)
		}
		if l.TokenCredential != "" && l.TokenFile != "" {
			t.Fatalf("%s: two token sources", l.Name)
		}
	}
}
