package listeners

// A connection's transport is how its bytes cross the socket, under its protocol. Every read and write of a
// TCP connection goes through recv and send, so a transport that has its own records and handshake (TLS)
// replaces these two and keeps its state beside the connection's buffers, with the protocols and the life
// cycle unchanged. Plain TCP is the raw system calls of rawio.go; TLS is transport_tls.go, on connections
// whose tls is set.

// recv reads what the socket holds into buf.
func (c *tcpConn) recv(buf []byte) (int, error) {
	if c.tls != nil {
		n, err := c.tls.recv(buf)
		if c.tls.eof {
			c.peerShut = true // the end was read with data: the next recv returns it
		}
		return n, err
	}
	return readNB(int(c.fd), buf)
}

// send writes buf to the socket, as much as it takes.
func (c *tcpConn) send(buf []byte) (int, error) {
	if c.tls != nil {
		return c.tls.send(int(c.fd), buf)
	}
	return writeNB(int(c.fd), buf)
}
