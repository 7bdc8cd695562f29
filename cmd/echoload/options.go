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
	window      int           // sliding-window mode: lines kept in flight per connection; 0 = batch mode
	rate        float64       // open-loop mode: round trips per second over all connections; 0 = closed loop
	count       int           // ping mode: probes to send; 0 = load mode
	interval    time.Duration // ping mode: time between probes
	json        bool          // print the one-line JSON report instead of the text summary
	gso         bool          // UDP: each batch leaves as one UDP_SEGMENT message
}

// maxBatch bounds the bytes one connection keeps in flight.
const maxBatch = 64 << 20

// maxWindow bounds the bytes of a sliding window. The window is written from the goroutine that reads the
// echoes, so it must fit in the socket buffers: a server that stops reading cannot deadlock the run.
const maxWindow = 256 << 10

// maxUDPSize is the largest UDP payload over IPv4.
const maxUDPSize = 65507

const usage = `usage: echoload -addr host:port[,host:port...] [flags]

echoload is a load generator and latency probe for line echo servers; it checks every echoed byte.
  ping mode (-count N): one connection sends a probe every -interval and prints its round trip, then a
      summary like ping's (min/avg/max/mdev, loss).
  closed loop (default): every connection writes -pipeline lines of -size bytes in one write, waits until
      all are echoed back, and starts again; with -window N it keeps N lines in flight instead, sending a
      new line for each echo that comes back.
  open loop (-rate R): the connections together send R lines a second on a fixed schedule, whatever the
      server does, and each latency counts from the time its line was due (no coordinated omission).
  idle (-idle K): opens K TCP connections, holds them for -duration and reports how many were lost.
It prints a summary with a latency histogram, or one JSON line with -json (round trips per second, mb_per_s
of echoed payload, latency percentiles in microseconds, errors). SIGINT/SIGTERM end a run early.
Exit status: 0, 1 when errors or lost probes were counted (unless -allow-errors), 2 on bad flags.

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
	fs.IntVar(&o.window, "window", 0, "sliding window: keep this many lines in flight per connection")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: round trips per second over all connections (TCP)")
	fs.IntVar(&o.count, "count", 0, "ping mode: send this many probes, one every -interval")
	fs.DurationVar(&o.interval, "interval", time.Second, "ping mode: time between probes")
	fs.BoolVar(&o.json, "json", false, "print one JSON line instead of the text summary")
	fs.BoolVar(&o.gso, "gso", false, "UDP: send each batch of -pipeline datagrams as one UDP_SEGMENT message, as QUIC stacks do")
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
	case o.gso && (o.proto != "udp" || o.count > 0):
		return errors.New("-gso needs -proto udp and takes no -count")
	case o.gso && (o.pipeline > maxGSOSegments || o.size*o.pipeline > maxUDPSize):
		return fmt.Errorf("-gso takes at most %d datagrams and %d bytes a batch", maxGSOSegments, maxUDPSize)
	case o.idle > 0:
		return nil
	case o.count < 0:
		return errors.New("-count must not be negative")
	case o.count > 0 && o.interval <= 0:
		return errors.New("-interval must be positive")
	case o.count > 0 && (o.window > 0 || o.rate > 0 || o.pipeline != 1):
		return errors.New("-count (ping mode) takes no -window, -rate or -pipeline")
	case o.count > 0:
		o.conns = 1
		return o.checkSize()
	case o.window < 0 || o.rate < 0:
		return errors.New("-window and -rate must not be negative")
	case o.window > 0 && (o.pipeline != 1 || o.rate > 0 || o.proto != "tcp" || o.requests > 0):
		return errors.New("-window needs -proto tcp and takes no -pipeline, -rate or -requests")
	case o.window*o.size > maxWindow:
		return fmt.Errorf("-window × -size must be at most %d bytes", maxWindow)
	case o.rate > 0 && (o.pipeline != 1 || o.proto != "tcp" || o.requests > 0):
		return errors.New("-rate needs -proto tcp and takes no -pipeline or -requests")
	case o.conns < 1:
		return errors.New("-conns must be at least 1")
	case o.pipeline < 1:
		return errors.New("-pipeline must be at least 1")
	case o.size*o.pipeline > maxBatch:
		return fmt.Errorf("-size × -pipeline must be at most %d bytes", maxBatch)
	}
	return o.checkSize()
}

// checkSize rejects a line size the protocol cannot carry.
func (o *options) checkSize() error {
	switch {
	case o.size < 1:
		return errors.New("-size must be at least 1")
	case (o.proto == "udp" || o.count > 0) && (o.size < minUDPSize || o.size > maxUDPSize):
		return fmt.Errorf("-size must be %d..%d for udp and ping mode", minUDPSize, maxUDPSize)
	}
	return nil
}
