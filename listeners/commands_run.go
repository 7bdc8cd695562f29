package listeners

import (
	"net/netip"
	"strconv"
	"time"

	"echogate/internal/logmsg"
	"echogate/policy"
)

// runCommand answers one admin command line, appending the reply to out. udp selects the datagram rules
// (no /shutdown over UDP).
func (l *Loop) runCommand(out []byte, pol *policy.Policy, st *Counters, peer netip.AddrPort, line []byte, udp bool) []byte {
	cmd, _ := ParseCommand(line)
	switch string(cmd.Name) {
	case "time":
		return time.Now().UTC().AppendFormat(out, "2006-01-02 15:04:05\n")
	case "stats":
		return l.statsCommand(out, cmd.Arg)
	case "hostname":
		return append(append(out, hostname()...), '\n')
	case "version":
		return append(append(append(out, "echogate "...), l.opts.Version...), '\n')
	case "help":
		if udp {
			return append(out, replyHelpUDP...)
		}
		return append(out, replyHelp...)
	case "shutdown":
		if udp {
			return append(out, replyShutdownUDP...)
		}
		return append(out, l.shutdownCommand(pol, st, peer, cmd.Arg)...)
	}
	return append(out, replyUnknown...)
}

// appendStats appends "<total_clients> <tcp_connected_now> <udp_active>\n".
func (l *Loop) appendStats(out []byte) []byte {
	out = strconv.AppendUint(out, l.stats.TotalClients, 10)
	out = append(out, ' ')
	out = strconv.AppendInt(out, int64(l.stats.TCPNow), 10)
	out = append(out, ' ')
	out = strconv.AppendInt(out, int64(l.udpActive()), 10)
	return append(out, '\n')
}

// shutdownCommand checks a /shutdown request and, when it is good, starts a graceful stop once the reply is
// queued. The checks run in a fixed order: admin_allow, then the brute-force guard, then the token.
func (l *Loop) shutdownCommand(pol *policy.Policy, st *Counters, peer netip.AddrPort, arg []byte) []byte {
	addr := peer.Addr()
	if !pol.AdminAllowed(addr) {
		st.ShutdownRefused++
		l.refused(pol.Name, reasonAdminAllow, peer)
		return replyLoopbackOnly
	}
	if l.lockout.Blocked(addr, l.nowNano) {
		st.ShutdownRefused++
		l.refused(pol.Name, reasonLockout, peer)
		return replyLockedOut
	}
	switch pol.CheckToken(arg) {
	case policy.TokenRequired:
		return replyTokenRequired
	case policy.TokenMissing:
		st.ShutdownRefused++
		l.refused(pol.Name, reasonNoToken, peer)
		return replyTokenMissing
	case policy.TokenInvalid:
		st.ShutdownRefused++
		l.refused(pol.Name, reasonToken, peer)
		banned, lockedAll := l.lockout.Fail(addr, l.nowNano)
		if lockedAll { // once per lock: the daemon-wide budget is spent
			l.log.Warn(logmsg.ShutdownLocked, "event", "too many bad tokens from all addresses, refusing /shutdown to every address for a while",
				"listener", pol.Name, "peer", peer, "budget", policy.DefaultGlobalFailures,
				"within", policy.DefaultGlobalWindow, "lock", policy.DefaultGlobalLock)
		}
		if banned {
			l.refused(pol.Name, reasonBan, peer) // too many bad tokens: this address is refused for a while
		}
		return replyTokenInvalid
	}
	l.log.Warn(logmsg.ShutdownRequested, "listener", pol.Name, "peer", peer)
	l.schedule(0, func() { l.beginShutdown("admin /shutdown from " + peer.String()) })
	return replyShutdownOK
}
