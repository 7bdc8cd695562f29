package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestFromListenFlags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		specs []string
		want  string // "name proto address" per listener, or the error
	}{
		{"none", nil, msgNoListeners},
		{"tcp and udp", []string{"tcp://127.0.0.1:7007", "udp://[::1]:7007"}, "tcp-7007 tcp 127.0.0.1:7007, udp-7007 udp [::1]:7007"},
		{"empty host", []string{"tcp://:7007"}, "tcp-7007 tcp 127.0.0.1:7007"},
		{"name clash", []string{"tcp://127.0.0.1:0", "tcp://[::1]:0", "tcp://127.0.0.2:0"}, "tcp-0 tcp 127.0.0.1:0, tcp-0-2 tcp [::1]:0, tcp-0-3 tcp 127.0.0.2:0"},
		{"same address", []string{"tcp://:7007", "tcp://127.0.0.1:7007"}, `listener "tcp-7007-2": address 127.0.0.1:7007 overlaps listener "tcp-7007" (tcp 127.0.0.1:7007)`},
		{"bad scheme", []string{"sctp://:7"}, `listen spec "sctp://:7": want tcp://host:port or udp://host:port`},
		{"no scheme", []string{"127.0.0.1:7"}, `listen spec "127.0.0.1:7": want tcp://host:port or udp://host:port`},
		{"host name", []string{"udp://localhost:7"}, `listen spec "udp://localhost:7": "localhost:7": host must be an IP address, not a name (e.g. "127.0.0.1:7007")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := FromListenFlags(tc.specs)
			var got string
			if err != nil {
				var ce *Error
				if !errors.As(err, &ce) {
					t.Errorf("got %T, want an *Error", err)
				}
				got = err.Error()
			} else {
				var parts []string
				for _, l := range cfg.Listeners {
					parts = append(parts, l.Name+" "+string(l.Protocol)+" "+l.Address)
				}
				got = strings.Join(parts, ", ")
				if !reflect.DeepEqual(cfg.Daemon, DefaultDaemon()) || cfg.Path != "" {
					t.Errorf("daemon %+v path %q", cfg.Daemon, cfg.Path)
				}
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestFromListenFlagsDefaults(t *testing.T) {
	cfg, err := FromListenFlags([]string{"tcp://:1", "udp://:1"})
	if err != nil {
		t.Fatal(err)
	}
	src := "[[listener]]\nname = \"tcp-1\"\nprotocol = \"tcp\"\naddress = \":1\"\n" +
		"[[listener]]\nname = \"udp-1\"\nprotocol = \"udp\"\naddress = \":1\"\n"
	fromFile, err := Decode("f.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range Plan(fromFile, cfg) {
		if a.Kind != Keep {
			t.Errorf("flags differ from the same file: %v", a)
		}
	}
}
