package main

import (
	"context"
	"fmt"
	"time"
)

// tlsIsolation is the p99 of plain round trips, quiet and under handshake floods.
type tlsIsolation struct {
	QuietP99us     float64 `json:"quiet_p99_us"`
	CappedP99us    float64 `json:"capped_p99_us"` // while the TLS listener takes tlsFloodRate handshakes/s
	FloodP99us     float64 `json:"flood_p99_us"`  // while it takes as many as tlsHSClients clients can do
	RefQuietP99us  float64 `json:"ref_quiet_p99_us"`
	RefFloodP99us  float64 `json:"ref_flood_p99_us"` // the C loop beside the Go server under the same flood
	CappedDoneRate float64 `json:"capped_handshakes_per_s"`
	Err            string  `json:"error,omitempty"`
}

// isolation measures the plain p99 of echogate quiet and under handshake floods on its TLS listener, and
// the same of the C loop beside the Go server.
func (b *tlsBench) isolation(ctx context.Context) *tlsIsolation {
	iso := &tlsIsolation{}
	eg, err := b.start(ctx, true)
	if err != nil {
		iso.Err = err.Error()
		return iso
	}
	defer eg.stop()
	plain := fmt.Sprintf("127.0.0.1:%d", b.plainPort)
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", b.tlsPort)
	if iso.QuietP99us, err = b.plainP99(ctx, plain, "", 0); err == nil {
		iso.CappedP99us, err = b.plainP99(ctx, plain, tlsAddr, tlsFloodRate)
	}
	if err == nil {
		iso.FloodP99us, err = b.plainP99(ctx, plain, tlsAddr, -1)
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
	if iso.RefQuietP99us, err = b.plainP99(ctx, cAddr, "", 0); err == nil {
		iso.RefFloodP99us, err = b.plainP99(ctx, cAddr, fmt.Sprintf("127.0.0.1:%d", b.goPort), -1)
	}
	if err != nil {
		iso.Err = err.Error()
	}
	progress("tls isolation: %+v", *iso)
	return iso
}

// plainP99 runs one plain ping connection against addr for the run's duration while, when flood is set,
// tlsHSClients clients do handshakes on flood (rate a second in all, or as fast as they can when rate < 0),
// and returns the p99 round trip.
func (b *tlsBench) plainP99(ctx context.Context, addr, flood string, rate int) (float64, error) {
	dur := b.o.duration.String()
	errc := make(chan error, 1)
	if flood != "" {
		go func() {
			_, err := b.load(ctx, map[string]string{"mode": "handshake", "addr": flood, "conns": fmt.Sprint(tlsHSClients),
				"rate": fmt.Sprint(max(rate, 0)), "duration": (b.o.duration + 500*time.Millisecond).String()})
			errc <- err
		}()
		time.Sleep(250 * time.Millisecond)
	} else {
		errc <- nil
	}
	lr, err := b.load(ctx, map[string]string{"mode": "ping", "addr": addr, "plain": "1", "conns": "1",
		"size": fmt.Sprint(tlsLineBytes), "duration": dur})
	if ferr := <-errc; err == nil {
		err = ferr
	}
	return lr.P99us, err
}
