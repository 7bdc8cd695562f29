package listeners

import (
	"fmt"
	"net/netip"

	"echogate/config"
)

// A listener's protocol is what it does with the bytes it is sent; everything else is shared. A TCP protocol
// sees the input of one connection a read at a time and appends its replies to the connection's output: the
// connection (tcp_conn.go, tcp_end.go) owns the life cycle around it — the read budget, backpressure and held
// input, the idle, line and rate timers, half-close, lingering, the graceful stop. A datagram protocol sees
// one admitted datagram at a time and returns its reply: the endpoint (udp.go) owns the batches, admission,
// the peer table and the reply budget. Each protocol is one file (proto_*.go) that registers itself under its
// config value in an init function; the loop calls it once per read or per datagram, never per byte.

// tcpProtocol serves the input of a TCP connection.
type tcpProtocol interface {
	// serve answers data, the bytes of one read or input held back earlier, by appending replies to c.io.out
	// (through l.outBuf; c.io is set). It returns how much of data it took: the connection holds the rest and
	// offers it again once its output queue has room, or once a pause the protocol asked for with c.pauseFor is
	// over. A protocol that must end the connection calls c.end(): what it answered is flushed, the rest of the
	// input is dropped.
	serve(l *Loop, c *tcpConn, data []byte) int
	// halfClosed is told, with c.io set, that the peer half-closed and every byte it sent has been served: it
	// may answer what is left (an unterminated last line). The connection flushes it, then closes.
	halfClosed(l *Loop, c *tcpConn)
}

// tcpGreeter is a tcpProtocol that speaks first: greet is called once, with c.io set, when a connection has
// been admitted, before anything is read. It may answer and call c.end, as the agent mode does.
type tcpGreeter interface {
	greet(l *Loop, c *tcpConn)
}

// tcpVerbatim is a tcpProtocol whose answer to a read is often the read itself. verbatim is asked, for a
// connection that holds no state (c.io is nil: nothing queued, held or unfinished), whether data is answered
// by echoing it unchanged; if so it has counted what data served (lines) and the connection writes data
// straight from the read buffer, as a C echo loop does, queueing only what the socket does not take. If not,
// serve is called as usual.
type tcpVerbatim interface {
	verbatim(c *tcpConn, data []byte) bool
}

// datagramProtocol answers the datagrams of a UDP socket.
type datagramProtocol interface {
	// reply answers d and returns the reply, or false to send nothing. The reply may be d.data itself or be
	// written over d.data's buffer (u.fitReply does that, and drops a reply over d.budget).
	reply(l *Loop, u *udpEndpoint, d datagram) ([]byte, bool)
}

// datagram is one admitted datagram, as a datagram protocol sees it.
type datagram struct {
	src       netip.AddrPort
	data      []byte // the payload, cut at max_datagram; its buffer holds 64 KiB
	size      int    // the payload's size as sent
	truncated bool   // longer than max_datagram: data is its start
	budget    int    // the largest reply payload that is no amplification (replyBudget)
	ctl       []byte // the reply's source as IP_PKTINFO on a wildcard-bound socket, else nil
	ttl       int16  // the TTL or hop limit the datagram arrived with; -1 when the kernel did not say
	tos       int16  // the TOS or traffic class byte (DSCP and ECN); -1 when the kernel did not say
	rxTime    int64  // the kernel's receive time of the datagram, unix ns; 0 when not asked or not given
}

// tcpProtocolID is a protocol's index in tcpProtocols, so that a connection keeps its protocol in one byte.
type tcpProtocolID uint8

// The registered protocols. They are filled by the init functions of the proto_*.go files and only read after.
var (
	tcpProtocols      []tcpProtocol
	tcpGreeters       []tcpGreeter  // by tcpProtocolID; nil for a protocol that waits for the client
	tcpVerbatims      []tcpVerbatim // by tcpProtocolID; nil for a protocol that always answers through serve
	tcpProtocolIDs    = map[config.Mode]tcpProtocolID{}
	datagramProtocols = map[string]datagramProtocol{}
)

// registerTCPProtocol makes p the protocol of TCP listeners whose mode is mode.
func registerTCPProtocol(mode config.Mode, p tcpProtocol) {
	if _, dup := tcpProtocolIDs[mode]; dup {
		panic(fmt.Sprintf("listeners: TCP protocol %q registered twice", mode))
	}
	tcpProtocolIDs[mode] = tcpProtocolID(len(tcpProtocols))
	tcpProtocols = append(tcpProtocols, p)
	g, _ := p.(tcpGreeter)
	tcpGreeters = append(tcpGreeters, g)
	v, _ := p.(tcpVerbatim)
	tcpVerbatims = append(tcpVerbatims, v)
}

// registerDatagramProtocol makes p the protocol of UDP listeners whose protocol is name.
func registerDatagramProtocol(name string, p datagramProtocol) {
	if _, dup := datagramProtocols[name]; dup {
		panic(fmt.Sprintf("listeners: datagram protocol %q registered twice", name))
	}
	datagramProtocols[name] = p
}

// tcpProtocolFor returns the protocol of mode. Validation admits only registered modes; anything else is
// served as lines.
func tcpProtocolFor(mode config.Mode) tcpProtocolID {
	if id, ok := tcpProtocolIDs[mode]; ok {
		return id
	}
	return tcpProtocolIDs[config.ModeLine]
}
