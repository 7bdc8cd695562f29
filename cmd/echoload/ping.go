package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"time"

	"echogate/cmd/echoload/report"
)

// pinger sends one probe at a time over one connection (TCP) or socket (UDP). A TCP connection that failed or
// timed out is closed and dialled again for the next probe, so a restarting server shows up as lost probes,
// not as the end of the run.
type pinger struct {
	o    options
	addr string
	lm   *lineMaker
	conn net.Conn
	out  []byte // the probe
	in   []byte // the echo
	rtts []time.Duration
}

// runPing sends o.count probes, one every o.interval (a probe that takes longer delays the next, as ping
// does), printing one line per probe on lines, and returns the summary. ctx ends the run early.
func runPing(ctx context.Context, o options, lines io.Writer) result {
	p := &pinger{o: o, addr: o.addrs[0], lm: newLineMaker(o.size), out: make([]byte, o.size),
		in: make([]byte, o.size+1)}
	defer p.close()
	res := result{Proto: o.proto, Conns: 1, Size: o.size, Pipeline: 1}
	t0 := time.Now()
	sent := 0
	for seq := 1; seq <= o.count && ctx.Err() == nil; seq++ {
		if seq > 1 {
			sleepCtx(ctx, time.Until(t0.Add(time.Duration(seq-1)*o.interval)))
			if ctx.Err() != nil {
				break
			}
		}
		sent++
		rtt, err := p.probe(ctx, uint64(seq))
		if err != nil {
			res.Errors++
			fmt.Fprintf(lines, "%s: seq=%d %v\n", p.addr, seq, err)
			continue
		}
		p.rtts = append(p.rtts, rtt)
		fmt.Fprintf(lines, "%d bytes from %s: seq=%d time=%.3f ms\n", o.size, p.addr, seq, ms(rtt))
	}
	res.DurationS = time.Since(t0).Seconds()
	res.RoundTrips = uint64(len(p.rtts))
	if p.conn != nil || len(p.rtts) > 0 {
		res.Established = 1
	}
	h := new(histogram)
	for _, d := range p.rtts {
		h.record(int64(d))
	}
	setRates(&res, h)
	res.Ping = pingSummary(sent, p.rtts)
	return res
}

// errNoEcho is a probe whose echo did not come back within -timeout.
var errNoEcho = errors.New("no echo")

// probe sends probe seq and waits for its echo; the error says why it is lost.
func (p *pinger) probe(ctx context.Context, seq uint64) (time.Duration, error) {
	if p.conn == nil {
		d := net.Dialer{Timeout: p.o.timeout}
		c, err := d.DialContext(ctx, p.o.proto, p.addr)
		if err != nil {
			return 0, err
		}
		p.conn = c
	}
	p.lm.fill(p.out, 0, seq)
	t0 := time.Now()
	_ = p.conn.SetDeadline(t0.Add(p.o.timeout))
	if _, err := p.conn.Write(p.out); err != nil {
		p.close()
		return 0, fmt.Errorf("write: %w", err)
	}
	var err error
	if p.o.proto == "udp" {
		err = p.readUDP(seq)
	} else {
		err = p.readTCP()
	}
	if err != nil {
		if p.o.proto == "tcp" {
			p.close() // the stream is out of step: start again on a new connection
		}
		return 0, err
	}
	return time.Since(t0), nil
}

// readTCP reads the echo of the probe and checks every byte.
func (p *pinger) readTCP() error {
	got := p.in[:len(p.out)]
	if _, err := io.ReadFull(p.conn, got); err != nil {
		if isTimeout(err) {
			return fmt.Errorf("%w within %v", errNoEcho, p.o.timeout)
		}
		return fmt.Errorf("read: %w", err)
	}
	if at := firstDiff(got, p.out); at >= 0 {
		return fmt.Errorf("echo differs at byte %d: got %q want %q", at, excerpt(got, at), excerpt(p.out, at))
	}
	return nil
}

// readUDP reads datagrams until the echo of probe seq; late echoes of earlier probes are skipped.
func (p *pinger) readUDP(seq uint64) error {
	for {
		n, err := p.conn.Read(p.in)
		if isTimeout(err) {
			return fmt.Errorf("%w within %v", errNoEcho, p.o.timeout)
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if _, s, ok := parseHeader(p.in[:n]); ok && s < seq {
			continue
		}
		if !bytes.Equal(p.in[:n], p.out) {
			return fmt.Errorf("unexpected datagram of %d bytes: %q", n, excerpt(p.in[:n], 0))
		}
		return nil
	}
}

func (p *pinger) close() {
	if p.conn != nil {
		_ = p.conn.Close()
		p.conn = nil
	}
}

// pingSummary is ping's statistics line: loss, and min/avg/max/mdev of the round trips in microseconds.
func pingSummary(sent int, rtts []time.Duration) *report.Ping {
	s := &report.Ping{Sent: sent, Received: len(rtts)}
	if sent > 0 {
		s.LossPct = round(100*float64(sent-len(rtts))/float64(sent), 1)
	}
	if len(rtts) == 0 {
		return s
	}
	lo, hi, sum, sq := rtts[0], rtts[0], 0.0, 0.0
	for _, d := range rtts {
		lo, hi = min(lo, d), max(hi, d)
		us := float64(d) / 1e3
		sum += us
		sq += us * us
	}
	avg := sum / float64(len(rtts))
	s.MinUs, s.MaxUs = round(float64(lo)/1e3, 1), round(float64(hi)/1e3, 1)
	s.AvgUs = round(avg, 1)
	s.MdevUs = round(math.Sqrt(max(0, sq/float64(len(rtts))-avg*avg)), 1)
	return s
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }
