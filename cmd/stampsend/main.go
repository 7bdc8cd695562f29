// Command stampsend is a STAMP Session-Sender (RFC 8762, RFC 8972): it sends one test session to a
// reflector at a rate, for a count or a duration, and reports the round trip, both one-way delays, the
// reflector's turnaround (T3 − T2), the loss in each direction and the TTL and DSCP the test packets
// arrived with, as the reflector saw them, and the DSCP the reflected packets arrived with, with the RP flag
// of the Class of Service TLV (RFC 8972 §4.4: whether the reflector's policy let it send the DSCP -dscp
// asked for). Human-readable by default, one JSON line with -json.
//
//	stampsend -count 100 -rate 50 127.0.0.1:862
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"echogate/internal/toolmain"
)

// options are the flags of one run.
type options struct {
	addr     string
	count    int
	rate     float64
	duration time.Duration
	wait     time.Duration
	keyFile  string
	ssid     uint
	ptp      bool
	ttl      int
	dscp     int
	sendDSCP int // the test packets' DSCP; -1 = dscp
	tlvs     bool
	stateful bool
	json     bool
	rcvbuf   int // the socket's receive buffer, bytes; 0 = 4 MiB (a test sets a small one)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("stampsend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.count, "count", 10, "test packets to send; 0 = until -duration ends")
	fs.Float64Var(&o.rate, "rate", 10, "test packets per second")
	fs.DurationVar(&o.duration, "duration", 0, "how long to send (with -count 0)")
	fs.DurationVar(&o.wait, "wait", time.Second, "how long to wait for replies after the last test packet")
	fs.StringVar(&o.keyFile, "key-file", "", "authenticated mode: the HMAC key, trimmed, from this file")
	fs.UintVar(&o.ssid, "ssid", 0, "the session's SSID (RFC 8972); 0 = a random one, so each run is a new session")
	fs.BoolVar(&o.ptp, "ptp", false, "PTPv2 truncated timestamps instead of NTP")
	fs.IntVar(&o.ttl, "ttl", 0, "IP TTL / hop limit of the test packets; 0 = the system's")
	fs.IntVar(&o.dscp, "dscp", 0, "DSCP the reflected packets are asked to carry (Class of Service TLV); the test packets are sent with it too")
	fs.IntVar(&o.sendDSCP, "send-dscp", -1, "DSCP of the test packets, when it differs from -dscp; -1 = -dscp")
	fs.BoolVar(&o.tlvs, "tlvs", true, "add the Class of Service and Direct Measurement TLVs (RFC 8972); false sends bare RFC 8762 packets")
	fs.BoolVar(&o.stateful, "stateful", false, "the reflector is stateful: split the loss by direction even where it cannot be told")
	fs.BoolVar(&o.json, "json", false, "print one JSON line instead of a report")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: stampsend [flags] host:port   (STAMP's port is 862)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return o, errors.New("want one reflector address")
	}
	o.addr = fs.Arg(0)
	if o.sendDSCP < 0 {
		o.sendDSCP = o.dscp
	}
	switch {
	case o.rate <= 0:
		return o, errors.New("-rate must be positive")
	case o.count < 0 || o.count == 0 && o.duration <= 0:
		return o, errors.New("-count must be positive, or 0 with a -duration")
	case o.dscp < 0 || o.dscp > 63:
		return o, errors.New("-dscp must be 0..63")
	case o.sendDSCP < -1 || o.sendDSCP > 63:
		return o, errors.New("-send-dscp must be 0..63, or -1 for -dscp")
	case o.ttl < 0 || o.ttl > 255:
		return o, errors.New("-ttl must be 0..255")
	case o.ssid > 0xffff:
		return o, errors.New("-ssid must be 0..65535")
	}
	return o, nil
}

func main() {
	// The sender spins between packets at high rates; the replies must still be read as they come, by a
	// second P, even when the process is pinned to one CPU.
	runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0)))
	o, err := parseFlags(os.Args[1:], os.Stderr)
	ctx, stop := toolmain.Start("stampsend", err)
	res, err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stampsend:", err)
		os.Exit(1)
	}
	if o.json {
		err = res.writeJSON(os.Stdout)
	} else {
		err = res.writeText(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stampsend:", err)
		os.Exit(1)
	}
	if res.Received == 0 {
		os.Exit(1)
	}
}
