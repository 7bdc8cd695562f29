package listeners

// A connection's transport is how its bytes cross the socket, under its protocol. Every read and write of a
// TCP connection goes through recv and send, so a transport that has its own records and handshake (TLS)
// replaces these two and keeps its state beside the connection's buffers, with the protocols and the life
// cycle unchanged. Today the only transport is plain TCP: the calls are the raw system calls of rawio.go.

// recv reads what the socket holds into buf.
func (c *tcpConn) recv(buf []byte) (int, error) { return readNB(int(c.fd), buf) }

// send writes buf to the socket, as much as it takes.
func (c *tcpConn) send(buf []byte) (int, error) { return writeNB(int(c.fd), buf) }
