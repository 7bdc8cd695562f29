package listeners

import (
	"errors"
	"net/netip"

	"golang.org/x/sys/unix"

	"echogate/internal/logmsg"
	"echogate/policy"
)

// The PROXY stage of a connection from a balancer in proxy_allow, on a listener whose proxy_protocol is not
// "off". Until the header is read (or, with "optional", known to be absent) the protocol sees nothing: the
// bytes of each read go to proxyInput, a header split across reads is kept in c.diag.wait.buf, and the bytes after
// it are the client's first data. Only then is the connection judged (allow, max_conns_per_ip) as the client
// the header names, and counted as accepted. A connection from any other peer never gets here: with
// "optional" its bytes are data, with "required" it is refused at accept. Listeners with "off" pay one
// comparison per accept.

// connDiag is what a connection holds beyond a plain one: the PROXY stage and what its header said, and the
// SYN that /whoami read once (the kernel gives a saved SYN only once). tcpConn.diag is nil on a plain
// connection that never asked. It fits a 128-byte allocation: behind a balancer every connection has one.
type connDiag struct {
	wait    *proxyWait     // the PROXY stage, while the header is awaited: nothing reaches the protocol yet
	via     netip.AddrPort // the socket peer (the balancer) when the header named a client
	hdr     proxyInfo
	syn     synInfo // the client's SYN as the kernel saved it, once /whoami asked (synRead)
	header  bool    // a header was read (proxied, LOCAL or UNKNOWN): /shutdown is refused
	synRead bool
	synOK   bool // syn holds the SYN: the kernel gave it
}

// proxyWait is the state of a connection awaiting its PROXY header.
type proxyWait struct {
	buf   []byte           // the header's bytes so far, when it came split across reads
	timer *timer           // proxy_timeout
	mode  policy.ProxyMode // the listener's proxy_protocol when c was accepted: a reload does not change it
}

// proxyInfo is what /whoami json shows of a header once it is read: the header but for the client it named,
// which is then the connection's peer.
type proxyInfo struct {
	dst     netip.AddrPort
	tlv     *proxyTLVs
	version uint8
	family  uint8
	local   bool
	proxied bool
}

// info keeps what /whoami json shows of h.
func (h *proxyHeader) info() proxyInfo {
	return proxyInfo{dst: h.dst, tlv: h.tlv, version: h.version, family: h.family, local: h.local, proxied: h.proxied}
}

// proxied reports whether c's peer is a client a PROXY header named (c.peer), not the socket peer.
func (c *tcpConn) proxied() bool { return c.diag != nil && c.diag.via.IsValid() }

// admitBalancer handles a new connection on a listener with proxy_protocol on. It reports false when the
// peer is not a trusted balancer and the listener is "optional": the caller admits it as usual. A trusted
// balancer's connection is refused only by max_conns now and awaits its header; anyone else on a "required"
// listener is refused.
func (l *Loop) admitBalancer(ln *tcpListener, fd int, peer netip.AddrPort) bool {
	pol := ln.pol
	if !pol.ProxyTrusted(peer.Addr()) {
		if pol.Proxy != policy.ProxyRequired {
			return false
		}
		ln.stats.ProxyErrors++
		_ = unix.Close(fd)
		l.refused(ln.name, reasonProxy, peer)
		return true
	}
	if v := pol.AdmitBalancer(len(ln.conns)); v != policy.Admitted {
		l.countRefusal(ln, v, peer)
		refuseBusy(fd)
		return true
	}
	c := l.openConn(ln, fd, peer, nil)
	if c == nil {
		return true
	}
	c.diag = &connDiag{wait: &proxyWait{mode: pol.Proxy}}
	c.diag.wait.timer = l.schedule(pol.ProxyTimeout, func() { c.proxyTimedOut(l) })
	return true
}

// proxyInput takes the bytes of one read while the header is awaited. It returns the bytes after the header,
// the client's first data (all of data when an "optional" connection sent no header), or nil when the header
// is not complete yet or c was closed.
func (c *tcpConn) proxyInput(l *Loop, data []byte) []byte {
	d := c.diag.wait
	in := data
	if len(d.buf) > 0 {
		d.buf = append(d.buf, data...)
		in = d.buf
	}
	h, n, err := parseProxyHeader(in)
	switch {
	case errors.Is(err, errProxyShort):
		if len(d.buf) == 0 {
			d.buf = append([]byte(nil), data...)
		}
		return nil
	case errors.Is(err, errNotProxy) && d.mode == policy.ProxyOptional:
		if !c.proxyDone(l, nil) {
			return nil
		}
		return in
	case errors.Is(err, errNotProxy):
		c.proxyFailed(l, "no PROXY header")
		return nil
	case err != nil:
		c.proxyFailed(l, err.Error())
		return nil
	}
	if !c.proxyDone(l, &h) {
		return nil
	}
	return in[n:]
}

// proxyDone ends the PROXY stage with header h (nil: none came) and judges the connection: as the client h
// names; as its socket peer when there was no header, or one that names no IP client. A LOCAL or UNKNOWN
// header is the trusted balancer's own connection (a health check), which allow does not judge; so is a
// header that names the connection's own socket peer, address and port, as the client: HAProxy's v1 health
// checks (check-send-proxy with send-proxy) describe themselves that way, since v1 has no LOCAL. It reports
// false if c was refused and closed.
func (c *tcpConn) proxyDone(l *Loop, h *proxyHeader) bool {
	d := c.diag
	l.cancel(d.wait.timer)
	d.wait = nil
	switch {
	case h == nil:
		c.diag = nil // a plain connection from here on
		return c.proxyAdmit(l, c.peer)
	case h.local || h.proxied && netip.AddrPortFrom(h.src.Addr().Unmap(), h.src.Port()) == c.peer:
		d.header, d.hdr = true, h.info()
		c.ln.stats.HealthChecks++
		l.admitted(c.ln)
		return true
	case !h.proxied:
		d.header, d.hdr = true, h.info()
		return c.proxyAdmit(l, c.peer)
	}
	d.header, d.hdr, d.via = true, h.info(), c.peer
	return c.proxyAdmit(l, h.src)
}

// proxyAdmit judges c as coming from client, counted against client's address from now on. A client that
// is refused is told so as at accept ("server busy" over a cap, nothing outside allow) and closed.
func (c *tcpConn) proxyAdmit(l *Loop, client netip.AddrPort) bool {
	ln := c.ln
	addr := client.Addr().Unmap()
	client = netip.AddrPortFrom(addr, client.Port())
	same := addr == c.peer.Addr()
	fromIP := int(ln.perIP[addr])
	if same {
		fromIP-- // c itself
	}
	if v := ln.pol.AdmitConn(client, len(ln.conns)-1, fromIP); v != policy.Admitted {
		if l.countRefusal(ln, v, client) {
			_, _ = unix.Write(int(c.fd), replyBusy)
			_ = unix.Shutdown(int(c.fd), unix.SHUT_WR)
		}
		c.close(l, "refused: "+v.String())
		return false
	}
	if !same {
		ln.dropPeer(c.peer.Addr())
		ln.perIP[addr]++
	}
	c.peer = client
	l.admitted(ln)
	return true
}

// proxyTimedOut ends a connection whose header took longer than proxy_timeout. On an "optional" listener a
// balancer's connection that sent nothing at all is served as a direct one from then on.
func (c *tcpConn) proxyTimedOut(l *Loop) {
	if c.state == connClosed || c.diag == nil || c.diag.wait == nil {
		return
	}
	d := c.diag.wait
	d.timer = nil
	if d.mode == policy.ProxyOptional && len(d.buf) == 0 {
		c.proxyDone(l, nil)
		return
	}
	c.proxyFailed(l, "timed out")
}

// proxyEOF handles the peer's EOF while the header is awaited: a header cut short is an error; a
// connection that closes before sending a byte (a balancer's plain TCP check) is only closed.
func (c *tcpConn) proxyEOF(l *Loop) {
	if len(c.diag.wait.buf) > 0 {
		c.proxyFailed(l, "truncated")
		return
	}
	c.close(l, "closed before a PROXY header")
}

// proxyFailed counts a connection whose header was malformed, truncated, too slow or missing, and closes it.
func (c *tcpConn) proxyFailed(l *Loop, why string) {
	c.ln.stats.ProxyErrors++
	l.refused(c.ln.name, reasonProxy, c.peer)
	l.log.Debug(logmsg.ProxyRefused, "listener", c.ln.name, "peer", c.peer, "err", why)
	c.close(l, "proxy: "+why)
}
