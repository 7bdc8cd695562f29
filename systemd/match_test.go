package systemd

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"echogate/config"
)

func TestMatch(t *testing.T) {
	sock := func(fd int, name, proto string) Socket {
		return Socket{FD: fd, Name: name, Protocol: proto, Listening: proto == "tcp",
			Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(7000+fd))}
	}
	lst := func(name string, p config.Protocol) config.Listener { return config.Listener{Name: name, Protocol: p} }
	three := []config.Listener{lst("echo-tcp", config.TCP), lst("echo-udp", config.UDP), lst("admin", config.TCP)}
	for _, tc := range []struct {
		name      string
		sockets   []Socket
		listeners []config.Listener
		claimed   map[string]int // listener -> fd
		unclaimed []int
		err       string
	}{
		{name: "named", listeners: three,
			sockets: []Socket{sock(3, "admin", "tcp"), sock(4, "echo-udp", "udp"), sock(5, "echo-tcp", "tcp")},
			claimed: map[string]int{"admin": 3, "echo-udp": 4, "echo-tcp": 5}},
		{name: "nothing passed", listeners: three, claimed: map[string]int{}},
		{name: "unknown by type",
			listeners: []config.Listener{lst("t", config.TCP), lst("u", config.UDP)},
			sockets:   []Socket{sock(3, "unknown", "udp"), sock(4, "unknown", "tcp")},
			claimed:   map[string]int{"t": 4, "u": 3}},
		{name: "unknown tcp goes to the one tcp listener left", listeners: three,
			sockets: []Socket{sock(3, "admin", "tcp"), sock(4, "unknown", "tcp")},
			claimed: map[string]int{"admin": 3, "echo-tcp": 4}},
		{name: "unknown with two tcp listeners left is unclaimed", listeners: three,
			sockets:   []Socket{sock(3, "unknown", "tcp"), sock(4, "unknown", "udp")},
			claimed:   map[string]int{"echo-udp": 4},
			unclaimed: []int{3}},
		{name: "unknown udp with no udp listener is unclaimed",
			listeners: []config.Listener{lst("t", config.TCP)},
			sockets:   []Socket{sock(3, "unknown", "udp")},
			claimed:   map[string]int{}, unclaimed: []int{3}},
		{name: "unnamed fds count as unknown",
			listeners: []config.Listener{lst("t", config.TCP)},
			sockets:   []Socket{sock(3, "", "tcp")},
			claimed:   map[string]int{"t": 3}},
		{name: "unclaimed names keep their order", listeners: three,
			sockets:   []Socket{sock(3, "old", "tcp"), sock(4, "echo-tcp", "tcp"), sock(5, "echo-tcp.socket", "tcp")},
			claimed:   map[string]int{"echo-tcp": 4},
			unclaimed: []int{3, 5}},
		{name: "datagram for tcp listener", listeners: three,
			sockets: []Socket{sock(3, "echo-tcp", "udp")},
			err:     `listener "echo-tcp" is tcp but systemd passed a datagram socket named "echo-tcp"`},
		{name: "stream for udp listener", listeners: three,
			sockets: []Socket{sock(3, "echo-udp", "tcp")},
			err:     `listener "echo-udp" is udp but systemd passed a stream socket named "echo-udp"`},
		{name: "duplicate names", listeners: three,
			sockets: []Socket{sock(3, "admin", "tcp"), sock(4, "admin", "tcp")},
			err:     `listener "admin": systemd passed two sockets named "admin" (fd 3 127.0.0.1:7003 and fd 4`},
		{name: "two unknown for one listener",
			listeners: []config.Listener{lst("t", config.TCP)},
			sockets:   []Socket{sock(3, "unknown", "tcp"), sock(4, "unknown", "tcp")},
			err:       `listener "t": systemd passed 2 unnamed stream sockets (fd 3 and fd 4)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claimed, unclaimed, err := Match(tc.sockets, tc.listeners)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Match error = %v; want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gotClaimed := map[string]int{}
			for name, s := range claimed {
				gotClaimed[name] = s.FD
			}
			var gotUnclaimed []int
			for _, s := range unclaimed {
				gotUnclaimed = append(gotUnclaimed, s.FD)
			}
			if !reflect.DeepEqual(gotClaimed, tc.claimed) || !reflect.DeepEqual(gotUnclaimed, tc.unclaimed) {
				t.Errorf("Match = %v, unclaimed %v; want %v, unclaimed %v", gotClaimed, gotUnclaimed, tc.claimed, tc.unclaimed)
			}
		})
	}
}
