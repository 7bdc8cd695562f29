package systemd

import (
	"fmt"

	"echogate/config"
)

// Match assigns passed sockets to listeners. A socket whose Name equals a listener's name goes to that
// listener; it is an error when its protocol differs or when a second socket carries the same name.
// Sockets named "unknown" are matched by type: when exactly one listener of their protocol got no named
// socket, it takes the unknown socket of that protocol (two of them for one listener is an error). Every
// other socket is returned in unclaimed, in input order; the caller logs those and leaves them open.
func Match(sockets []Socket, ls []config.Listener) (claimed map[string]Socket, unclaimed []Socket, err error) {
	byName := make(map[string]config.Listener, len(ls))
	for _, l := range ls {
		byName[l.Name] = l
	}
	claimed = make(map[string]Socket)
	var unknown []Socket
	for _, s := range sockets {
		l, ok := byName[s.Name]
		if !ok {
			if (s.Name == UnknownName || s.Name == "") && s.Err == nil {
				unknown = append(unknown, s)
			}
			continue
		}
		if s.Err != nil {
			return nil, nil, fmt.Errorf("listener %q: %w", l.Name, s.Err)
		}
		if string(l.Protocol) != s.Protocol {
			return nil, nil, fmt.Errorf("listener %q is %s but systemd passed a %s socket named %q",
				l.Name, l.Protocol, socketKind(s.Protocol), s.Name)
		}
		if prev, dup := claimed[l.Name]; dup {
			return nil, nil, fmt.Errorf("listener %q: systemd passed two sockets named %q (fd %d %s and fd %d %s)",
				l.Name, s.Name, prev.FD, prev.Addr, s.FD, s.Addr)
		}
		claimed[l.Name] = s
	}
	if err := matchByType(unknown, ls, claimed); err != nil {
		return nil, nil, err
	}
	return claimed, unclaimedOf(sockets, claimed), nil
}

// matchByType gives an unknown socket to the only listener of its protocol left without a socket.
func matchByType(unknown []Socket, ls []config.Listener, claimed map[string]Socket) error {
	for _, proto := range []string{"tcp", "udp"} {
		var socks []Socket
		for _, s := range unknown {
			if s.Protocol == proto {
				socks = append(socks, s)
			}
		}
		if len(socks) == 0 {
			continue
		}
		var free []string
		for _, l := range ls {
			if _, ok := claimed[l.Name]; !ok && string(l.Protocol) == proto {
				free = append(free, l.Name)
			}
		}
		if len(free) != 1 {
			continue
		}
		if len(socks) > 1 {
			return fmt.Errorf("listener %q: systemd passed %d unnamed %s sockets (fd %d and fd %d); "+
				"give each a FileDescriptorName=", free[0], len(socks), socketKind(proto), socks[0].FD, socks[1].FD)
		}
		claimed[free[0]] = socks[0]
	}
	return nil
}

// unclaimedOf returns the sockets no listener took, in input order.
func unclaimedOf(all []Socket, claimed map[string]Socket) []Socket {
	taken := make(map[int]bool, len(claimed))
	for _, s := range claimed {
		taken[s.FD] = true
	}
	var out []Socket
	for _, s := range all {
		if !taken[s.FD] {
			out = append(out, s)
		}
	}
	return out
}

// socketKind names a protocol's socket type the way systemd unit files do.
func socketKind(proto string) string {
	if proto == "udp" {
		return "datagram"
	}
	return "stream"
}
