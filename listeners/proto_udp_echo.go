package listeners

import "net/netip"

// udpEcho is the datagram protocol of every UDP listener today: a datagram is sent back as it came (RFC 862),
// a command datagram is answered when the listener allows commands, and a truncated one is answered
// "ERR datagram-truncated", each within the reply budget.
const udpEcho = "echo"

type udpEchoProtocol struct{}

func init() { registerDatagramProtocol(udpEcho, udpEchoProtocol{}) }

func (udpEchoProtocol) reply(l *Loop, u *udpEndpoint, d datagram) ([]byte, bool) {
	switch {
	case d.truncated:
		return u.fitReply(l, d.src, d.data, replyDatagramTooLong, d.budget)
	case u.pol.Commands && len(d.data) > 0 && d.data[0] == '/':
		return udpCommand(l, u, d.src, d.data, d.budget)
	}
	return d.data, true
}

// udpCommand answers a command datagram from src with a reply of at most budget bytes, or drops it.
func udpCommand(l *Loop, u *udpEndpoint, src netip.AddrPort, data []byte, budget int) ([]byte, bool) {
	if l.statsJSONOverBudget(data, budget) { // known too large before it is built
		u.stats.UDPDropped++
		l.refused(u.name, reasonAmplify, src)
		return nil, false
	}
	reply := l.runCommand(l.udpScratch[:0], u.pol, u.stats, src, data, true)
	l.udpScratch = reply[:0]
	return u.fitReply(l, src, data, reply, budget)
}
