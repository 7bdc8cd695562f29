package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"time"
)

// tlsIsolation is the p99 of plain round trips, quiet and under handshake floods.
type tlsIsolation struct {
	QuietP99us     float64 `json:"quiet_p99_us"`
	CappedP99us    float64 `json:"capped_p99_us"` // while the TLS listener takes tlsFloodRate handshakes/s
	FloodP99us     float64 `json:"flood_p99_us"`  // while it takes as many as tlsHSClients clients can do
	ChurnP99us     float64 `json:"churn_p99_us"`  // while the plain listener takes tlsFloodRate plain connections/s
	RefQuietP99us  float64 `json:"ref_quiet_p99_us"`
	RefFloodP99us  float64 `json:"ref_flood_p99_us"` // the C loop beside the Go server under the same flood
	CappedDoneRate float64 `json:"capped_handshakes_per_s"`
	RealTime       bool    `json:"pinger_real_time"` // the pinger ran at real-time priority
	Err            string  `json:"error,omitempty"`
}

// The pinger of the isolation point is the C client bin/ping-c (cmd/echoload/cbaseline/ping.c) on the load
// CPU, at real-time priority (chrt -f) where that is allowed. On a 2-core machine it shares that CPU with the
// handshake flood's clients, and a pinger at their priority measured mostly its own wait behind them: with a
// Go pinger, perf sched showed echogate's loop thread runnable and waiting over 0.3 ms once in 2 s of a
// 200 handshakes/s flood, and the pinger's threads hundreds of times. A real-time C pinger takes the CPU at
// once and costs the flood little, so what it measures is the server.

// isolation measures the plain p99 of echogate quiet, under handshake floods on its TLS listener and under as
// many plain connections a second on the plain listener, and the same of the C loop beside the Go server.
func (b *tlsBench) isolation(ctx context.Context) *tlsIsolation {
	b.realTime = realTimeAllowed()
	iso := &tlsIsolation{RealTime: b.realTime}
	eg, err := b.start(ctx, true)
	if err != nil {
		iso.Err = err.Error()
		return iso
	}
	defer eg.stop()
	plain := fmt.Sprintf("127.0.0.1:%d", b.plainPort)
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", b.tlsPort)
	if iso.QuietP99us, err = b.plainP99(ctx, plain, "", 0, false); err == nil {
		iso.CappedP99us, err = b.plainP99(ctx, plain, tlsAddr, tlsFloodRate, false)
	}
	if err == nil {
		iso.FloodP99us, err = b.plainP99(ctx, plain, tlsAddr, -1, false)
	}
	if err == nil {
		iso.ChurnP99us, err = b.plainP99(ctx, plain, plain, tlsFloodRate, true)
	}
	eg.stop()
	if err != nil {
		iso.Err = err.Error()
		return iso
	}
	cport, err := freePort()
	if err != nil {
		iso.Err = err.Error()
		return iso
	}
	c, err := startServer(ctx, "C", "0", serverSpec{bin: b.o.cbaseline}.listenArgv(cport), cport)
	if err != nil {
		iso.Err = err.Error()
		return iso
	}
	defer c.stop()
	gs, err := b.start(ctx, false)
	if err != nil {
		iso.Err = err.Error()
		return iso
	}
	defer gs.stop()
	cAddr := fmt.Sprintf("127.0.0.1:%d", cport)
	if iso.RefQuietP99us, err = b.plainP99(ctx, cAddr, "", 0, false); err == nil {
		iso.RefFloodP99us, err = b.plainP99(ctx, cAddr, fmt.Sprintf("127.0.0.1:%d", b.goPort), -1, false)
	}
	if err != nil {
		iso.Err = err.Error()
	}
	progress("tls isolation: %+v", *iso)
	return iso
}

// realTimeAllowed reports whether the pinger may run at real-time priority here.
func realTimeAllowed() bool {
	return exec.Command("chrt", "-f", "10", "true").Run() == nil
}

// plainP99 runs the C pinger against addr for the run's duration while, when flood is set, tlsHSClients
// clients connect to flood (with TLS handshakes, or plain connections when plain is set; rate a second in
// all, or as fast as they can when rate < 0), and returns the pinger's p99 round trip.
func (b *tlsBench) plainP99(ctx context.Context, addr, flood string, rate int, plain bool) (float64, error) {
	errc := make(chan error, 1)
	if flood != "" {
		args := map[string]string{"mode": "handshake", "addr": flood, "conns": fmt.Sprint(tlsHSClients),
			"rate": fmt.Sprint(max(rate, 0)), "duration": (b.o.duration + 500*time.Millisecond).String()}
		if plain {
			args["plain"] = "1"
		}
		go func() {
			_, err := b.load(ctx, args)
			errc <- err
		}()
		time.Sleep(250 * time.Millisecond)
	} else {
		errc <- nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	argv := pinned("1", []string{b.o.pingC, host, port, fmt.Sprint(b.o.duration.Seconds())})
	if b.realTime {
		argv = append([]string{"chrt", "-f", "10"}, argv...)
	}
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	var r struct {
		P99us float64 `json:"p99_us"`
	}
	if err == nil {
		err = json.Unmarshal(out, &r)
	}
	if ferr := <-errc; err == nil {
		err = ferr
	}
	if err != nil {
		return 0, fmt.Errorf("ping-c %s: %w", addr, err)
	}
	return r.P99us, nil
}
