package echotest

import (
	"errors"
	"syscall"
	"testing"
)

// Sockopt is an integer socket option, as setsockopt(2) takes it: a client's IP_TTL, IP_TOS or TCP_MAXSEG.
type Sockopt struct{ Level, Name, Value int }

// WithSockopts is o with opts set on the socket before it connects.
func (o DialOptions) WithSockopts(opts ...Sockopt) DialOptions {
	o.Sockopts = append(o.Sockopts[:len(o.Sockopts):len(o.Sockopts)], opts...)
	return o
}

// SetSockopts sets opts on an open socket, such as a UDP client's before it sends.
func SetSockopts(t *testing.T, c syscall.Conn, opts ...Sockopt) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := control(rc, opts); err != nil {
		t.Fatal(err)
	}
}

// control sets opts on the socket of rc.
func control(rc syscall.RawConn, opts []Sockopt) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		for _, o := range opts {
			if e := syscall.SetsockoptInt(int(fd), o.Level, o.Name, o.Value); e != nil {
				serr = errors.Join(serr, e)
			}
		}
	})
	return errors.Join(err, serr)
}

// Opt is the Sockopt level, name = value.
func Opt(level, name, value int) Sockopt { return Sockopt{Level: level, Name: name, Value: value} }
