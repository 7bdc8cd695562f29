package echotest

import (
	"fmt"
	"strings"
)

// Listener is a [[listener]] table of the given protocol ("tcp" or "udp"), with address = addr unless addr
// is "" (a listener that can only serve a socket systemd passes), and the extra lines (key = value) after.
func Listener(name, proto, addr string, extra ...string) string {
	s := fmt.Sprintf("\n[[listener]]\nname = %q\nprotocol = %q\n", name, proto)
	if addr != "" {
		s += fmt.Sprintf("address = %q\n", addr)
	}
	for _, e := range extra {
		s += e + "\n"
	}
	return s
}

// TCPListener is Listener(name, "tcp", addr, extra...).
func TCPListener(name, addr string, extra ...string) string {
	return Listener(name, "tcp", addr, extra...)
}

// UnboundListener is a listener with no address: it can only serve a socket systemd passes.
func UnboundListener(name, proto string, extra ...string) string {
	return Listener(name, proto, "", extra...)
}

// DaemonTOML is a [daemon] table with the given lines (key = value).
func DaemonTOML(lines ...string) string { return "[daemon]\n" + strings.Join(lines, "\n") + "\n" }

// TCP is a TCP listener on 127.0.0.1, port chosen by the kernel, with the extra lines (key = value) after.
func TCP(name string, extra ...string) string { return TCPListener(name, "127.0.0.1:0", extra...) }

// UDP is a UDP listener on 127.0.0.1, port chosen by the kernel, with the extra lines (key = value) after.
func UDP(name string, extra ...string) string { return Listener(name, "udp", "127.0.0.1:0", extra...) }
