package listeners

import "echogate/config"

// rawProtocol is TCP mode "raw" (RFC 862): every byte is echoed as it arrives, with no framing and no
// commands. Backpressure needs nothing here: the connection reads no more than the output queue has room for.
type rawProtocol struct{}

func init() { registerTCPProtocol(config.ModeRaw, rawProtocol{}) }

func (rawProtocol) serve(l *Loop, c *tcpConn, data []byte) int {
	c.io.out = append(l.outBuf(c.io), data...)
	return len(data)
}

// verbatim: raw mode's answer to a read is always the read.
func (rawProtocol) verbatim(*tcpConn, []byte) bool { return true }

func (rawProtocol) halfClosed(*Loop, *tcpConn) {}
