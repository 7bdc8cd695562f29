package listeners

import (
	"strconv"

	"echogate/config"
)

// agentProtocol is TCP mode "agent": HAProxy's agent-check. On each connection it sends one line and
// closes; whatever the checker sends (agent-send) is read and dropped. The line, checked against HAProxy 2.6
// itself (see the README):
//
//	up ready [N%]          state ready and every listener of agent_listeners serving
//	drain                  state drain: HAProxy sends no new clients (weight 0), existing ones stay
//	maint                  state maint: HAProxy puts the server in maintenance
//	down #<reason>         a listener of agent_listeners is not serving (and the state is not maint)
//
// "up" and "ready" are both sent because HAProxy leaves DOWN only on "up" and DRAIN or MAINT only on
// "ready". The weight goes only with "up ready": after "down #" everything up to the newline is the reason.
type agentProtocol struct{}

func init() { registerTCPProtocol(config.ModeAgent, agentProtocol{}) }

func (agentProtocol) greet(l *Loop, c *tcpConn) {
	c.ln.stats.HealthChecks++
	c.io.out = appendAgentReply(l.outBuf(c.io), l, c.ln.pol.AgentListeners, c.ln.pol.AgentWeight)
	c.end()
}

// serve drops what the checker sends: the answer has gone out at the connection's start.
func (agentProtocol) serve(_ *Loop, _ *tcpConn, data []byte) int { return len(data) }

func (agentProtocol) halfClosed(*Loop, *tcpConn) {}

// appendAgentReply appends the agent's line for the daemon's state and the listeners it watches.
func appendAgentReply(b []byte, l *Loop, watch []string, weight int) []byte {
	if l.obs.state == config.StateMaint {
		return append(b, "maint\n"...)
	}
	for _, name := range watch {
		if !l.serving(name) {
			b = append(b, "down #listener "...)
			return append(append(b, name...), " is not serving\n"...)
		}
	}
	if l.obs.state == config.StateDrain {
		return append(b, "drain\n"...)
	}
	b = append(b, "up ready"...)
	if weight > 0 {
		b = strconv.AppendInt(append(b, ' '), int64(weight), 10)
		b = append(b, '%')
	}
	return append(b, '\n')
}
