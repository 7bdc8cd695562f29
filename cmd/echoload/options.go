package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// options are the command-line settings of one echoload run.
type options struct {
	addrs       []string // connection i goes to addrs[i%len(addrs)]
	proto       string   // "tcp" | "udp"
	conns       int
	size        int // line bytes, '\n' included
	pipeline    int // lines in flight per connection
	duration    time.Duration
	requests    uint64 // cap on measured round trips; 0 = none
	idle        int    // idle mode: connections to hold; 0 = load mode
	warmup      time.Duration
	timeout     time.Duration
	allowErrors bool
}

// maxBatch bounds the bytes one connection keeps in flight.
const maxBatch = 64 << 20

// maxUDPSize is the largest UDP payload over IPv4.
const maxUDPSize = 65507

const usage = `usage: echoload -addr host:port[,host:port...] [flags]

echoload is a closed-loop load generator and diagnostic client for line echo servers. Every connection
writes -pipeline lines of -size bytes in one write, waits until all of them are echoed back, checks every
byte, and starts again. It prints one JSON line: round trips (echoed lines) per second, MB/s of echoed
payload, latency percentiles in microseconds, errors. With -idle K it opens K TCP connections, holds them
for -duration (SIGINT/SIGTERM ends the hold early) and reports how many were established and lost.
Exit status: 0, 1 when errors > 0 (unless -allow-errors), 2 on bad flags.

`

// parseFlags reads args into options and checks them.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var addr string
	fs := flag.NewFlagSet("echoload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&addr, "addr", "127.0.0.1:7007", "server `host:port`; a comma-separated list spreads connections")
	fs.StringVar(&o.proto, "proto", "tcp", "tcp | udp")
	fs.IntVar(&o.conns, "conns", 1, "connections (UDP: sockets)")
	fs.IntVar(&o.size, "size", 64, "line bytes, '\\n' included")
	fs.IntVar(&o.pipeline, "pipeline", 1, "lines in flight per connection")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured run time (idle mode: hold time)")
	fs.Uint64Var(&o.requests, "requests", 0, "stop after this many measured round trips (0 = no cap)")
	fs.IntVar(&o.idle, "idle", 0, "idle mode: open and hold this many idle TCP connections")
	fs.DurationVar(&o.warmup, "warmup", 0, "unmeasured load before the measured run")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Second, "dial timeout, and how long a reply may take")
	fs.BoolVar(&o.allowErrors, "allow-errors", false, "exit 0 even when errors were counted")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, a := range strings.Split(addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			o.addrs = append(o.addrs, a)
		}
	}
	return o, o.check()
}

// check rejects settings that cannot run.
func (o *options) check() error {
	switch {
	case len(o.addrs) == 0:
		return errors.New("-addr: no address")
	case o.proto != "tcp" && o.proto != "udp":
		return fmt.Errorf("-proto %q: want tcp or udp", o.proto)
	case o.duration <= 0:
		return errors.New("-duration must be positive")
	case o.timeout <= 0:
		return errors.New("-timeout must be positive")
	case o.warmup < 0:
		return errors.New("-warmup must not be negative")
	case o.idle < 0:
		return errors.New("-idle must not be negative")
	case o.idle > 0 && o.proto != "tcp":
		return errors.New("-idle needs -proto tcp")
	case o.idle > 0:
		return nil
	case o.conns < 1:
		return errors.New("-conns must be at least 1")
	case o.pipeline < 1:
		return errors.New("-pipeline must be at least 1")
	case o.size < 1:
		return errors.New("-size must be at least 1")
	case o.size*o.pipeline > maxBatch:
		return fmt.Errorf("-size × -pipeline must be at most %d bytes", maxBatch)
	case o.proto == "udp" && (o.size < minUDPSize || o.size > maxUDPSize):
		return fmt.Errorf("-size must be %d..%d for udp", minUDPSize, maxUDPSize)
	}
	return nil
}
