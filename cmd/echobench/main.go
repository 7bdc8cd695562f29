// Command echobench is the harness behind `make bench`: it measures echogate against a minimal C epoll echo
// loop in the same run, interleaved, with the server pinned to CPU 0 and echoload to CPU 1, and prints the
// server CPU time per round trip of both, their ratio, the memory per idle connection and the reload time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"echogate/internal/toolmain"
)

// options are the harness's flags.
type options struct {
	echogate, cbaseline, echoload string
	stampsend, stampC             string // the STAMP point's sender and C reflector (stamp.go)
	pingC                         string // the C pinger of the TLS isolation point (tls_isolation.go)
	quick, selfTest               bool
	jsonPath                      string
	rounds                        int
	duration                      time.Duration
	idleConns                     int
	reloadListeners               int
	only                          map[string]bool // point keys to run; nil = all
	cRate                         float64         // the C loop's rate the open-loop points are fractions of
}

// wants tells whether the point with key should run.
func (o *options) wants(key string) bool {
	return o.only == nil || o.only[key]
}

// specs returns the two compared servers: the C loop first, then echogate (the C loop again in -self-test).
func (o *options) specs() [2]serverSpec {
	c := serverSpec{name: "C", bin: o.cbaseline}
	if o.selfTest {
		return [2]serverSpec{c, {name: "C (self-test)", bin: o.cbaseline}}
	}
	return [2]serverSpec{c, {name: "echogate", bin: o.echogate, echogate: true}}
}

// totalBound stops the whole run if something hangs.
const totalBound = 8 * time.Minute

func main() {
	o, err := parseFlags(os.Args[1:])
	ctx, stop := toolmain.Start("echobench", err)
	ctx, cancel := context.WithTimeout(ctx, totalBound)
	code := runBench(ctx, o)
	cancel()
	stop()
	os.Exit(code)
}

// parseFlags reads and checks the flags.
func parseFlags(args []string) (*options, error) {
	o := &options{}
	var only string
	fs := flag.NewFlagSet("echobench", flag.ContinueOnError)
	fs.StringVar(&o.echogate, "echogate", "bin/echogate", "echogate binary")
	fs.StringVar(&o.cbaseline, "cbaseline", "bin/echo-c", "the C epoll echo loop binary")
	fs.StringVar(&o.echoload, "echoload", "bin/echoload", "echoload binary")
	fs.StringVar(&o.stampsend, "stampsend", "bin/stampsend", "stampsend binary (the STAMP point)")
	fs.StringVar(&o.stampC, "stamp-c", "bin/stamp-c", "the C STAMP reflector binary (the STAMP point)")
	fs.StringVar(&o.pingC, "ping-c", "bin/ping-c", "the C TCP pinger binary (the TLS isolation point)")
	fs.BoolVar(&o.quick, "quick", false, "one round of 1 s per point")
	fs.BoolVar(&o.selfTest, "self-test", false, "run the C loop in both slots (tests the harness without echogate)")
	fs.StringVar(&o.jsonPath, "json", "", "also write the results as JSON to this `file`")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds per point (each server once per round)")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "load time of one run")
	fs.IntVar(&o.idleConns, "idle-conns", 10000, "idle connections for the memory and reload points")
	fs.IntVar(&o.reloadListeners, "reload-listeners", 100, "TCP listeners in the reload point")
	fs.StringVar(&only, "only", "", "comma-separated points to run: "+pointKeys()+",idle,reload,scrape,stamp,tls (default all)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.quick {
		o.rounds, o.duration = 1, time.Second
	}
	if only != "" {
		o.only = map[string]bool{}
		for _, k := range strings.Split(only, ",") {
			o.only[strings.TrimSpace(k)] = true
		}
	}
	if o.rounds < 1 || o.duration <= 0 || o.idleConns < 1 || o.reloadListeners < 1 {
		return nil, errors.New("-rounds, -duration, -idle-conns and -reload-listeners must be positive")
	}
	return o, nil
}

func pointKeys() string {
	var keys []string
	for _, p := range points {
		keys = append(keys, p.Key)
	}
	return strings.Join(keys, ",")
}

// runBench runs every chosen point, prints the table and writes the JSON file.
func runBench(ctx context.Context, o *options) int {
	if err := raiseNofile(); err != nil {
		progress("warning: %v", err)
	}
	if p, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() >= 2 {
		tasksetPath = p
	} else {
		progress("warning: not pinning (taskset missing or fewer than 2 CPUs)")
	}
	var err error
	start := time.Now()
	rep := &report{Rounds: o.rounds, DurationS: o.duration.Seconds(), SelfTest: o.selfTest,
		Started: start.UTC().Format(time.RFC3339)}
	for _, pt := range points {
		if o.wants(pt.Key) && ctx.Err() == nil {
			if pt.openLoop() && o.cRate == 0 {
				if o.cRate, err = cLoopRate(ctx, o, rep); err != nil {
					progress("open loop: no C loop rate: %v", err)
					continue
				}
			}
			rep.Points = append(rep.Points, runPoint(ctx, o, pt))
		}
	}
	if o.wants("idle") && ctx.Err() == nil {
		rep.Idle = measureIdle(ctx, o)
	}
	if o.wants("reload") && ctx.Err() == nil {
		rep.Reload = measureReload(ctx, o)
	}
	if o.wants("stamp") && ctx.Err() == nil && !o.selfTest {
		rep.Stamp = measureStamp(ctx, o)
	}
	if o.wants("tls") && ctx.Err() == nil && !o.selfTest {
		rep.TLS = measureTLS(ctx, o)
	}
	rep.Seconds = round3(time.Since(start).Seconds())
	printTable(os.Stdout, rep)
	if o.wants("scrape") && ctx.Err() == nil {
		measureScrape(ctx, o) // scrape.go
	}
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, rep); err != nil {
			fmt.Fprintln(os.Stderr, "echobench:", err)
			return 1
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "echobench: stopped early:", ctx.Err())
		return 1
	}
	if rep.incomplete() {
		fmt.Fprintln(os.Stderr, "echobench: some measurements failed (see the notes)")
		return 1
	}
	return 0
}

// raiseNofile raises the soft RLIMIT_NOFILE to the hard limit; the servers and echoload inherit it.
func raiseNofile() error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("setrlimit nofile %d: %w", rl.Max, err)
	}
	return nil
}
