package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
)

// The scrape measurement runs some points against two echogate processes, interleaved (A B A B): one
// plain, one whose /metrics a scraper asks every scrapeEvery, and prints the ratio of their server CPU per
// round trip. The scrape's own CPU in echogate (the HTTP goroutines, the loop's hand-off) counts: the
// server is the whole process.
var scrapePoints = []string{"tcp50", "udp50"}

const scrapeEvery = time.Second

// measureScrape runs the measurement (`-only scrape`, or with every point) and prints its table.
func measureScrape(ctx context.Context, o *options) {
	if o.selfTest {
		return
	}
	fmt.Printf("\n%-22s %16s %16s %7s %8s\n", "point", "no scrape µs/rt", "scraped µs/rt", "ratio", "scrapes")
	for _, pt := range points {
		for _, key := range scrapePoints {
			if pt.Key == key && ctx.Err() == nil {
				scrapeRow(ctx, o, pt)
			}
		}
	}
}

// scrapeRow measures one point on a plain and a scraped echogate.
func scrapeRow(ctx context.Context, o *options, pt point) {
	var sides [2]side
	var srvs [2]*server
	var ports [2]int
	var scrapes atomic.Int64
	for i := range srvs {
		port, err := freePort()
		argv := serverSpec{bin: o.echogate, echogate: true}.listenArgv(port)
		var web string
		if err == nil && i == 1 {
			argv, web, err = scrapedArgv(o.echogate, port)
		}
		if err == nil {
			srvs[i], err = startServer(ctx, fmt.Sprintf("echogate %d", i), "0", argv, port)
		}
		if err != nil {
			progress("scrape %s: %v", pt.Name, err)
			return
		}
		defer srvs[i].stop()
		ports[i] = port
		if web != "" {
			sctx, stop := context.WithCancel(ctx)
			defer stop()
			go scrapeLoop(sctx, web, &scrapes)
		}
	}
	for r := 0; r < o.rounds && ctx.Err() == nil; r++ {
		for i, s := range srvs {
			if err := measure(ctx, o, pt, s, ports[i], &sides[i]); err != nil {
				progress("scrape %s: %v", pt.Name, err)
				return
			}
		}
		progress("%s, round %d/%d: %.3f µs/rt plain, %.3f scraped", pt.Name, r+1, o.rounds,
			sides[0].CPUusPerRT, sides[1].CPUusPerRT)
	}
	ratio := 0.0
	if sides[0].CPUusPerRT > 0 {
		ratio = round3(sides[1].CPUusPerRT / sides[0].CPUusPerRT)
	}
	fmt.Printf("%-22s %16.3f %16.3f %7.3f %8d\n", pt.Name, sides[0].CPUusPerRT, sides[1].CPUusPerRT, ratio,
		scrapes.Load())
}

// scrapedArgv writes a config serving TCP and UDP on port, as -listen does, with the HTTP endpoint on a
// free port, and returns the command and the endpoint's address.
func scrapedArgv(bin string, port int) (argv []string, web string, err error) {
	webPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	web = net.JoinHostPort("127.0.0.1", strconv.Itoa(webPort))
	dir, err := os.MkdirTemp("", "echobench-scrape")
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	toml := fmt.Sprintf("[daemon]\nhttp = %q\n\n[[listener]]\nname = \"tcp\"\nprotocol = \"tcp\"\naddress = %q\n\n"+
		"[[listener]]\nname = \"udp\"\nprotocol = \"udp\"\naddress = %q\n", web, addr, addr)
	path := filepath.Join(dir, "echogate.toml")
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		return nil, "", err
	}
	return []string{bin, "run", "-config", path, "-log-level", "warn"}, web, nil
}

// scrapeLoop asks http://web/metrics every scrapeEvery until ctx ends, counting the answers.
func scrapeLoop(ctx context.Context, web string, n *atomic.Int64) {
	client := &http.Client{Timeout: 5 * time.Second}
	tick := time.NewTicker(scrapeEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		resp, err := client.Get("http://" + web + "/metrics")
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			n.Add(1)
		}
	}
}
