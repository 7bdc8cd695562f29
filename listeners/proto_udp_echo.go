package listeners

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
		return udpCommand(l, u, &d)
	}
	return d.data, true
}

// udpCommand answers command datagram d with a reply of at most d.budget bytes, or drops it.
func udpCommand(l *Loop, u *udpEndpoint, d *datagram) ([]byte, bool) {
	if l.statsJSONOverBudget(d.data, d.budget) { // known too large before it is built
		u.stats.UDPDropped++
		l.refused(u.name, reasonAmplify, d.src)
		return nil, false
	}
	var reply []byte
	if cmd, _ := ParseCommand(d.data); string(cmd.Name) == "whoami" {
		reply = appendWhoami(l.udpScratch[:0], cmd.Arg, datagramFields(u, d), nil)
	} else {
		reply = l.runCommand(l.udpScratch[:0], u.pol, u.stats, d.src, d.data, true)
	}
	l.udpScratch = reply[:0]
	return u.fitReply(l, d.src, d.data, reply, d.budget)
}
