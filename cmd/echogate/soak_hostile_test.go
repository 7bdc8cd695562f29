package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"echogate/internal/echotest"
)

// The soak's hostile clients: each kind runs in its own goroutine until the soak stops.

// soakRecv reads one datagram within d.
func soakRecv(u *net.UDPConn, d time.Duration) (string, bool) {
	buf := make([]byte, 65536)
	u.SetReadDeadline(time.Now().Add(d))
	n, err := u.Read(buf)
	return string(buf[:n]), err == nil
}

// startHostile starts the hostile workers. It returns a check, to call once they have stopped, that the
// connections trickling a byte at a time were never taken for idle and get their bytes back.
func (s *soak) startHostile(addr map[string]string, denied *net.UDPConn) (trickleCheck func()) {
	echo := addr["echo"]
	for range 10 { // slowloris: connect, send nothing, wait to be closed for idleness
		s.loop(0, func(*rand.Rand) {
			c, ok := s.dialHostile(echo, "slowloris")
			if !ok {
				return
			}
			defer c.Close()
			var one [1]byte
			for !s.stopped() {
				c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				n, err := c.Read(one[:])
				if n > 0 || err == io.EOF {
					if n > 0 {
						s.tally.fail(true, "idle connection got %q", one[:n])
					}
					return
				}
			}
		})
	}
	s.loop(50*time.Millisecond, func(r *rand.Rand) { // binary garbage in an overlong line
		s.expect(echo, append(junkNoNewline(r, 5000+r.IntN(5000)), "\nok\n"...), "ERR too-long-line\nok\n")
	})
	s.loop(50*time.Millisecond, func(*rand.Rand) { // half-close in the middle of a command
		s.expect(echo, []byte("abc\n/stats json"), "abc\n{")
	})
	s.loop(20*time.Millisecond, func(r *rand.Rand) { // reset mid-line, or with output queued
		c, err := echotest.DialErr(echo, echotest.DialOptions{Deadline: 15 * time.Second})
		if err != nil {
			return
		}
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		c.Write(slowPayload(r.IntN(20), 1+r.IntN(256<<10)))
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		s.tally.hostile.Add(1)
	})
	s.loop(100*time.Millisecond, func(*rand.Rand) { // more clients than max_conns at once
		var cs []net.Conn
		for i := range 12 {
			c, err := echotest.DialErr(addr["small"], echotest.DialOptions{Deadline: 15 * time.Second})
			if err != nil {
				continue
			}
			defer c.Close()
			line := fmt.Sprintf("small listener client %d\n", i)
			io.WriteString(c, line)
			cs = append(cs, c)
		}
		for i, c := range cs {
			if _, err := hReply(c, fmt.Sprintf("small listener client %d\n", i)); err != nil &&
				!errors.Is(err, syscall.ECONNRESET) {
				s.tally.fail(true, "max_conns flood: %v", err)
			}
			s.tally.hostile.Add(1)
		}
	})
	s.startTokenGuessers(addr["admin"])
	s.loop(200*time.Millisecond, func(*rand.Rand) { // slowloris: one byte every 300 ms on a line_timeout of 2s
		c, ok := s.dialHostile(addr["slow"], "slow line")
		if !ok {
			return
		}
		defer c.Close()
		start := time.Now()
		for time.Since(start) < 3500*time.Millisecond { // past the 2 s line_timeout
			if s.stopped() {
				return // too early to judge; and the soak's end must not wait for this client
			}
			if _, err := c.Write([]byte{'s'}); err != nil {
				break // cut: the reply is read below
			}
			time.Sleep(300 * time.Millisecond)
		}
		got, err := io.ReadAll(c)
		if string(got) != "ERR line-timeout\n" {
			s.tally.fail(true, "slow line: got %q, %v; want ERR line-timeout and EOF", got, err)
		}
	})
	s.loop(100*time.Millisecond, s.udpFlood(addr["udprl"]))
	s.loop(100*time.Millisecond, func(*rand.Rand) { // a denied source port (an echo loop)
		denied.WriteTo([]byte("loop me\n"), net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr["udp"])))
		s.tally.hostile.Add(1)
	})
	return s.trickle(echo, 5)
}

// expect sends data on a new connection, half-closes, and expects the reply to start with want.
func (s *soak) expect(addr string, data []byte, want string) {
	c, ok := s.dialHostile(addr, "expect")
	if !ok {
		return
	}
	defer c.Close()
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil || !strings.HasPrefix(string(got), want) {
		s.tally.fail(true, "%.40q: got %.80q, %v; want %q...", data, got, err, want)
	}
}

// dialHostile connects a hostile client and counts it; a failed dial is an anomaly, reported as what.
func (s *soak) dialHostile(addr, what string) (net.Conn, bool) {
	c, err := echotest.DialErr(addr, echotest.DialOptions{Deadline: 15 * time.Second})
	if err != nil {
		s.tally.fail(true, "%s dial: %v", what, err)
		return nil, false
	}
	s.tally.hostile.Add(1)
	return c, true
}

// udpFlood sends a datagram from each of 64 source ports, more than max_udp_peers, reading nothing back.
func (s *soak) udpFlood(addr string) func(*rand.Rand) {
	var socks []*net.UDPConn
	for range 64 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			s.t.Fatal(err)
		}
		s.t.Cleanup(func() { u.Close() })
		socks = append(socks, u)
	}
	dst := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr))
	return func(r *rand.Rand) {
		for _, u := range socks {
			u.WriteTo(junkNoNewline(r, 1+r.IntN(512)), dst)
			s.tally.hostile.Add(1)
		}
	}
}

// trickle opens n connections that send one byte every 300 ms until the soak stops.
func (s *soak) trickle(addr string, n int) func() {
	conns := make([]net.Conn, n)
	sent := make([]int, n)
	for i := range conns {
		c, err := echotest.DialErr(addr, echotest.DialOptions{Deadline: 15 * time.Second})
		if err != nil {
			s.t.Fatal(err)
		}
		s.t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	s.loop(300*time.Millisecond, func(*rand.Rand) {
		for i, c := range conns {
			c.SetDeadline(time.Now().Add(15 * time.Second))
			if _, err := c.Write([]byte{'t'}); err != nil {
				s.tally.fail(true, "trickling connection %d: %v", i, err)
				continue
			}
			sent[i]++
		}
	})
	return func() {
		for i, c := range conns {
			want := strings.Repeat("t", sent[i]) + "\n"
			got := make([]byte, len(want))
			c.SetDeadline(time.Now().Add(15 * time.Second))
			_, err := c.Write([]byte("\n"))
			if err == nil {
				_, err = io.ReadFull(c, got)
			}
			if err != nil || string(got) != want {
				s.tally.fail(true, "trickling connection %d: got %.40q, %v; want %d bytes", i, got, err, len(want))
			}
		}
	}
}

// startTokenGuessers starts two /shutdown guessers: one address that is banned after its first failures, and
// a flood of wrong tokens from ever new addresses in 127.20/16, trying to push the ban out of the lockout
// table. Once banned, the first must never be told its token is wrong again (a ban lasts longer than a
// soak), and neither may ever get anything but a refusal.
func (s *soak) startTokenGuessers(admin string) {
	var banned atomic.Bool
	guess := func(from netip.Addr) (string, bool) {
		c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0)),
			net.TCPAddrFromAddrPort(netip.MustParseAddrPort(admin)))
		if err != nil {
			s.tally.fail(true, "token guesser dial from %s: %v", from, err)
			return "", false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(15 * time.Second))
		io.WriteString(c, "/shutdown guess\n")
		got := make([]byte, 64)
		n, _ := c.Read(got)
		r := string(got[:n])
		if r != "ERR shutdown-token-invalid\n" && r != "ERR shutdown-locked-out\n" {
			s.tally.fail(true, "bad token from %s got %q", from, r)
		}
		s.tally.hostile.Add(1)
		return r, true
	}
	attacker := netip.MustParseAddr("127.0.0.3")
	s.loop(500*time.Millisecond, func(*rand.Rand) {
		r, ok := guess(attacker)
		switch {
		case ok && r == "ERR shutdown-locked-out\n":
			banned.Store(true)
		case ok && banned.Load():
			s.tally.fail(true, "the banned guesser was un-banned: got %q", r)
		}
	})
	next := 0
	s.loop(20*time.Millisecond, func(*rand.Rand) {
		next++
		guess(netip.AddrFrom4([4]byte{127, 20, byte(next >> 8), byte(next)}))
	})
}
