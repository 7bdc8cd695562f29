package main

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// sweepEvery is how often idle mode checks that its connections are still open.
const sweepEvery = time.Second

// runIdle opens o.idle TCP connections, says so on stderr, holds them for o.duration (or until ctx is done)
// while checking they stay open, and reports how many were established and lost. Errors are the
// connections that could not be opened plus those lost.
func runIdle(ctx context.Context, o options, d *diag) result {
	conns := dialIdle(ctx, o, d)
	res := result{Proto: "tcp", Conns: o.idle}
	for _, c := range conns {
		if c != nil {
			res.Established++
		}
	}
	d.always("idle: established %d of %d", res.Established, o.idle)
	t0 := time.Now()
	timer := time.NewTimer(o.duration)
	tick := time.NewTicker(sweepEvery)
	for hold := true; hold; {
		select {
		case <-timer.C:
			hold = false
		case <-ctx.Done():
			hold = false
		case <-tick.C:
			res.Lost += sweep(conns, d)
		}
	}
	timer.Stop()
	tick.Stop()
	res.Lost += sweep(conns, d)
	res.DurationS = time.Since(t0).Seconds()
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	res.Errors = uint64(o.idle-res.Established) + uint64(res.Lost)
	setRates(&res, new(histogram))
	return res
}

// dialIdle opens n connections, dialers at a time; a connection that failed is nil.
func dialIdle(ctx context.Context, o options, d *diag) []net.Conn {
	conns := make([]net.Conn, o.idle)
	var next atomic.Int64
	var wg sync.WaitGroup
	dialer := net.Dialer{Timeout: o.timeout}
	for range min(dialers, o.idle) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(conns) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				c, err := dialer.DialContext(ctx, "tcp", o.addrs[i%len(o.addrs)])
				if err != nil {
					d.printf("idle conn %d: %v", i, err)
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	return conns
}

// sweep closes and forgets every connection that is no longer open, and returns how many there were.
func sweep(conns []net.Conn, d *diag) int {
	lost := 0
	for i, c := range conns {
		if c == nil {
			continue
		}
		if err := stillOpen(c); err != nil {
			d.printf("idle conn %d: %v", i, err)
			c.Close()
			conns[i] = nil
			lost++
		}
	}
	return lost
}

// errUnexpectedData is returned for an idle connection that received bytes (e.g. "server busy").
var errUnexpectedData = errors.New("received data on an idle connection")

// errPeerClosed is returned for an idle connection the server closed.
var errPeerClosed = errors.New("closed by the server")

// stillOpen peeks at the socket without blocking: nil while it is open and silent.
func stillOpen(c net.Conn) error {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	var n int
	var rerr error
	var buf [1]byte
	if err := rc.Control(func(fd uintptr) {
		n, _, rerr = unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	}); err != nil {
		return err
	}
	switch {
	case errors.Is(rerr, unix.EAGAIN):
		return nil
	case rerr != nil:
		return rerr
	case n > 0:
		return errUnexpectedData
	default:
		return errPeerClosed
	}
}
