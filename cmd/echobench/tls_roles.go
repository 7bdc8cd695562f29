package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The TLS points need two programs besides echogate: the reference server, a goroutine-per-connection
// crypto/tls echo server as Go programs usually write one, and a TLS load generator (echoload speaks plain
// TCP and UDP only). Both are echobench itself, started again with ECHOBENCH_ROLE set, so that each runs in a
// process of its own, pinned like the others and measured by /proc.

// roleEnv names the role of a re-executed echobench; its arguments follow in roleArgsEnv.
const (
	roleEnv     = "ECHOBENCH_ROLE"
	roleArgsEnv = "ECHOBENCH_ROLE_ARGS"
)

func init() {
	role := os.Getenv(roleEnv)
	if role == "" {
		return
	}
	var args map[string]string
	if err := json.Unmarshal([]byte(os.Getenv(roleArgsEnv)), &args); err != nil {
		fmt.Fprintln(os.Stderr, "echobench role:", err)
		os.Exit(2)
	}
	var err error
	switch role {
	case "tls-server":
		err = tlsGoServer(args)
	case "tls-load":
		err = tlsLoad(args)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echobench", role+":", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// tlsGoServer serves a TLS echo on args["addr"] with one goroutine per connection, echoing each read.
func tlsGoServer(args map[string]string) error {
	cert, err := tls.LoadX509KeyPair(args["cert"], args["key"])
	if err != nil {
		return err
	}
	ln, err := tls.Listen("tcp", args["addr"], &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// tlsLoadResult is what one load run did, printed as JSON on stdout.
type tlsLoadResult struct {
	Done   uint64  `json:"done"` // round trips, or full handshakes
	Errors uint64  `json:"errors"`
	Secs   float64 `json:"secs"`
	P50us  float64 `json:"p50_us,omitempty"`
	P99us  float64 `json:"p99_us,omitempty"`
	Sample string  `json:"sample,omitempty"`
}

// tlsLoad runs args["mode"] against args["addr"]: "ping" (conns connections, each sending size-byte lines
// and waiting for each echo, over TLS, or plain when plain=1), "handshake" (conns clients doing full
// TLS 1.3 handshakes, at most rate a second in all when rate > 0) or "hold" (conns connections that echo
// one line and then stay idle until stdin closes; "held N" is printed once they are all up).
func tlsLoad(args map[string]string) error {
	num := func(k string) int { n, _ := strconv.Atoi(args[k]); return n }
	dur, err := time.ParseDuration(args["duration"])
	if err != nil && args["mode"] != "hold" {
		return err
	}
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13} //nolint:gosec // a loopback bench
	l := &loadRun{addr: args["addr"], cfg: cfg, plain: args["plain"] == "1", size: max(num("size"), 2)}
	var res tlsLoadResult
	switch args["mode"] {
	case "ping":
		res = l.ping(num("conns"), dur)
	case "handshake":
		res = l.handshakes(num("conns"), num("rate"), dur)
	case "hold":
		return l.hold(num("conns"))
	default:
		return fmt.Errorf("unknown mode %q", args["mode"])
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// loadRun is one load generator's target.
type loadRun struct {
	addr   string
	cfg    *tls.Config
	plain  bool
	size   int
	errs   atomic.Uint64
	sample atomic.Value
}

func (l *loadRun) dial() (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if l.plain {
		return d.Dial("tcp", l.addr)
	}
	return tls.DialWithDialer(d, "tcp", l.addr, l.cfg)
}

func (l *loadRun) fail(err error) {
	l.errs.Add(1)
	l.sample.CompareAndSwap(nil, err.Error())
}

func (l *loadRun) result(done uint64, secs float64, lat []time.Duration) tlsLoadResult {
	r := tlsLoadResult{Done: done, Errors: l.errs.Load(), Secs: round3(secs)}
	if s, ok := l.sample.Load().(string); ok {
		r.Sample = s
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50us = round3(float64(lat[len(lat)/2].Nanoseconds()) / 1e3)
		r.P99us = round3(float64(lat[len(lat)*99/100].Nanoseconds()) / 1e3)
	}
	return r
}

// ping runs conns ping-pong connections for dur.
func (l *loadRun) ping(conns int, dur time.Duration) tlsLoadResult {
	line := make([]byte, l.size)
	for i := range line {
		line[i] = 'a' + byte(i%26)
	}
	line[len(line)-1] = '\n'
	var mu sync.Mutex
	var all []time.Duration
	var done atomic.Uint64
	start := time.Now()
	stop := start.Add(dur)
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			c, err := l.dial()
			if err != nil {
				l.fail(err)
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			lat := make([]time.Duration, 0, 1<<16)
			for t0 := time.Now(); t0.Before(stop); t0 = time.Now() {
				if _, err := c.Write(line); err != nil {
					l.fail(err)
					return
				}
				if _, err := io.ReadFull(r, line); err != nil {
					l.fail(err)
					return
				}
				lat = append(lat, time.Since(t0))
			}
			done.Add(uint64(len(lat)))
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return l.result(done.Load(), time.Since(start).Seconds(), all)
}

// handshakes runs conns clients doing full handshakes (no session resumption) for dur, paced to rate a
// second in all when rate > 0.
func (l *loadRun) handshakes(conns, rate int, dur time.Duration) tlsLoadResult {
	var done atomic.Uint64
	start := time.Now()
	stop := start.Add(dur)
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		tick = t.C
	}
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if tick != nil {
					<-tick
				}
				c, err := l.dial()
				if err != nil {
					l.fail(err)
					continue
				}
				_ = c.Close()
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return l.result(done.Load(), time.Since(start).Seconds(), nil)
}

// hold opens conns connections, echoes one line on each, says so, and keeps them until stdin closes.
func (l *loadRun) hold(conns int) error {
	held := make([]net.Conn, 0, conns)
	line := []byte("hold\n")
	for range conns {
		c, err := l.dial()
		if err == nil {
			if _, err = c.Write(line); err == nil {
				_, err = io.ReadFull(c, make([]byte, len(line)))
			}
		}
		if err != nil {
			l.fail(err)
			continue
		}
		held = append(held, c)
	}
	fmt.Printf("held %d\n", len(held))
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range held {
		_ = c.Close()
	}
	return nil
}
