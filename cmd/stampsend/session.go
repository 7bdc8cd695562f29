package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"echogate/internal/stamp"
)

// sample is one reflected packet: the four timestamps (unix ns) and what the reflector reported.
type sample struct {
	t1, t2, t3, t4     int64
	reflSeq, senderSeq uint32
	ttl                uint8
	dscp, ecn          int16 // as the test packet arrived (Class of Service TLV); -1 when not reported
	replyDSCP          int16 // as the reflected packet arrived here (its IP header); -1 when not known
	rp                 int8  // the Class of Service TLV's RP: 0 = DSCP1 applied, 1 = not; -1 = no TLV
	reflErr            uint16
	flags              uint8 // the TLV flags the reflector set, or-ed
}

// session is one run's socket and packet settings.
type session struct {
	o     options
	conn  *net.UDPConn
	mac   *stamp.MAC // signs the test packets; nil in unauthenticated mode
	check *stamp.MAC // checks the replies, on the receiving goroutine
	ssid  uint16
	taiNs int64 // TAI − UTC, for PTP timestamps
}

// run sends the session and collects the replies. They are collected while the session is sent: a reply
// not yet taken holds its place in the socket's receive buffer, and a session longer than what the buffer
// holds (about 10 000 packets) would lose the rest, reported as loss.
func run(ctx context.Context, o options) (*result, error) {
	s, err := open(o)
	if err != nil {
		return nil, err
	}
	defer s.conn.Close()
	replies := make(chan sample, 1024)
	go s.receive(replies)
	sentCh, done := make(chan int, 1), make(chan *result, 1)
	go func() { done <- collect(ctx, newResult(s, 0), replies, sentCh, o.wait) }()
	sent, err := s.send(ctx)
	if err != nil {
		return nil, err // the collector ends when the socket closes
	}
	sentCh <- sent
	return <-done, nil
}

// collect adds the replies to res until every test packet has its reply, until wait after the last one was
// sent (its number comes on sentCh), or until ctx ends once the sending has stopped.
func collect(ctx context.Context, res *result, replies <-chan sample, sentCh <-chan int, wait time.Duration) *result {
	var deadline <-chan time.Time
	stop := ctx.Done()
	for res.Sent == 0 || res.Received < res.Sent {
		select {
		case r, ok := <-replies:
			if !ok {
				return res.finish()
			}
			res.add(r)
		case n := <-sentCh:
			if res.Sent = n; n == 0 || ctx.Err() != nil {
				return res.finish()
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			deadline, sentCh = t.C, nil
		case <-deadline:
			return res.finish()
		case <-stop:
			if res.Sent > 0 {
				return res.finish()
			}
			stop = nil // the sender stops too, and says how many it sent
		}
	}
	return res.finish()
}

// open makes the socket: connected to the reflector, with the TTL and DSCP asked for, and kernel receive
// timestamps (T4).
func open(o options) (*session, error) {
	s := &session{o: o, ssid: uint16(o.ssid)}
	if o.keyFile != "" {
		key, err := os.ReadFile(o.keyFile)
		if err != nil {
			return nil, err
		}
		if key = bytes.TrimSpace(key); len(key) == 0 {
			return nil, fmt.Errorf("%s: the key is empty", o.keyFile)
		}
		s.mac, s.check = stamp.NewMAC(key), stamp.NewMAC(key)
	}
	for s.ssid == 0 {
		var b [2]byte
		_, _ = rand.Read(b[:])
		s.ssid = binary.BigEndian.Uint16(b[:])
	}
	var tx unix.Timex
	if _, err := unix.Adjtimex(&tx); err == nil {
		s.taiNs = int64(tx.Tai) * 1e9
	}
	c, err := net.Dial("udp", o.addr)
	if err != nil {
		return nil, err
	}
	s.conn = c.(*net.UDPConn)
	_ = s.conn.SetReadBuffer(cmp.Or(o.rcvbuf, 4<<20)) // replies wait here while the receiving goroutine is not running
	v6 := s.conn.RemoteAddr().(*net.UDPAddr).AddrPort().Addr().Unmap().Is6()
	raw, err := s.conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	_ = raw.Control(func(fd uintptr) { serr = socketOptions(int(fd), v6, o) })
	if serr != nil {
		s.conn.Close()
		return nil, serr
	}
	return s, nil
}

// socketOptions sets the TTL and traffic class of the test packets and asks for the receive timestamps and
// the traffic class of the replies.
func socketOptions(fd int, v6 bool, o options) error {
	set := func(level, opt, v int, name string) error {
		return os.NewSyscallError("setsockopt "+name, unix.SetsockoptInt(fd, level, opt, v))
	}
	errs := []error{set(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS")}
	switch {
	case v6 && o.ttl > 0:
		errs = append(errs, set(unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, o.ttl, "IPV6_UNICAST_HOPS"))
	case o.ttl > 0:
		errs = append(errs, set(unix.IPPROTO_IP, unix.IP_TTL, o.ttl, "IP_TTL"))
	}
	switch {
	case v6:
		errs = append(errs, set(unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS"))
	default:
		errs = append(errs, set(unix.IPPROTO_IP, unix.IP_RECVTOS, 1, "IP_RECVTOS"))
	}
	switch {
	case v6 && o.sendDSCP > 0:
		errs = append(errs, set(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, o.sendDSCP<<2, "IPV6_TCLASS"))
	case o.sendDSCP > 0:
		errs = append(errs, set(unix.IPPROTO_IP, unix.IP_TOS, o.sendDSCP<<2, "IP_TOS"))
	}
	return errors.Join(errs...)
}

// stampTime is ns (unix) in the session's timestamp format.
func (s *session) stampTime(ns int64) uint64 {
	if s.o.ptp {
		return stamp.PTP(ns + s.taiNs)
	}
	return stamp.NTP(ns)
}

// packet builds test packet seq into b.
func (s *session) packet(b []byte, seq uint32) []byte {
	auth := s.mac != nil
	b = b[:stamp.BaseSize(auth)]
	errEst := stamp.ErrorEstimate(false, s.o.ptp, 0) // the sender's clock is not claimed synchronised
	stamp.PutTest(b, stamp.Test{Seq: seq, ErrEst: errEst, SSID: s.ssid}, auth)
	if s.o.tlvs {
		cos := stamp.CoS(uint8(s.o.dscp))
		b = stamp.AppendTLV(b, stamp.TypeClassOfService, cos[:])
		var dm [12]byte
		binary.BigEndian.PutUint32(dm[:], seq+1) // the sender's transmit count
		b = stamp.AppendTLV(b, stamp.TypeDirectMeasurement, dm[:])
		if auth {
			b = stamp.AppendTLV(b, stamp.TypeHMAC, make([]byte, stamp.HMACSize))
		}
	}
	ts := s.stampTime(time.Now().UnixNano()) // T1, as late as possible
	stamp.SetTestTimestamp(b, ts, auth)
	if auth {
		s.mac.Sign(b)
		tlvs := b[stamp.AuthSize:]
		if at := stamp.HMACOffset(tlvs); at >= 0 {
			s.mac.SignTLVs(b, tlvs, at)
		}
	}
	return b
}

// send sends the test packets at the rate until the count or the duration is reached; it returns how many
// it sent. Each packet has its own due time; a wait under spinUnder is spun rather than slept, since a timer
// cannot pace tens of thousands of packets a second.
func (s *session) send(ctx context.Context) (int, error) {
	every := time.Duration(float64(time.Second) / s.o.rate)
	start := time.Now()
	end := start.Add(s.o.duration)
	buf := make([]byte, 256)
	sent := 0
	for seq := uint32(0); s.o.count == 0 || sent < s.o.count; seq++ {
		if s.o.count == 0 && time.Now().After(end) {
			break
		}
		if _, err := s.conn.Write(s.packet(buf, seq)); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			return sent, err
		}
		if sent++; s.o.count != 0 && sent == s.o.count {
			break
		}
		if !waitUntil(ctx, start.Add(time.Duration(sent)*every)) {
			break
		}
	}
	return sent, nil
}

// spinUnder is the shortest wait that is slept rather than spun.
const spinUnder = time.Millisecond

// waitUntil waits for t, or reports false when ctx ends first.
func waitUntil(ctx context.Context, t time.Time) bool {
	if d := time.Until(t); d >= spinUnder {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return false
		}
	}
	for time.Now().Before(t) {
		runtime.Gosched()
	}
	return ctx.Err() == nil
}
