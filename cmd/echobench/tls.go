package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"echogate/internal/procstat"
	"echogate/internal/testcert"
)

// The TLS points compare echogate's TLS line listener with a goroutine-per-connection crypto/tls echo server
// (tls_roles.go), both pinned to CPU 0 with the load on CPU 1: CPU per round trip (tlsConns connections,
// tlsLineBytes-byte lines, TLS 1.3), full handshakes a second with an ECDSA P-256 certificate, RSS per idle
// TLS connection at tlsIdleConns, and the isolation figure: the p99 of a plain listener of echogate while its
// TLS listener takes handshakes, capped at tlsFloodRate a second and unbounded, beside the same figures for
// the C loop while the Go server takes the unbounded flood (two processes).
const (
	tlsConns     = 50
	tlsLineBytes = 64
	tlsIdleConns = 2000
	tlsFloodRate = 200
	tlsHSClients = 8
)

// tlsSide is what one server did in the TLS points.
type tlsSide struct {
	Server       string    `json:"server"`
	RoundTrips   uint64    `json:"round_trips"`
	CPUusPerRT   float64   `json:"cpu_us_per_rt"`
	RunsUsPerRT  []float64 `json:"runs_us_per_rt"`
	P99us        float64   `json:"p99_us"`
	HandshakesPS float64   `json:"handshakes_per_s"`
	CPUusPerHS   float64   `json:"cpu_us_per_handshake"`
	IdleBytes    float64   `json:"idle_bytes_per_conn"`
	Errors       uint64    `json:"errors"`
	Err          string    `json:"error,omitempty"`
}

// tlsResult is the TLS section of the report.
type tlsResult struct {
	Echogate  tlsSide       `json:"echogate"`
	GoServer  tlsSide       `json:"go_server"`
	Socat     *tlsSide      `json:"socat,omitempty"` // socat OPENSSL-LISTEN in front of the C loop
	Isolation *tlsIsolation `json:"isolation,omitempty"`
}

// benchTB makes testcert's failures an error of the TLS points.
type benchTB struct{ err error }

func (b *benchTB) Helper() {}
func (b *benchTB) Fatal(args ...any) {
	b.err = errors.New(fmt.Sprint(args...))
	panic(b)
}

// tlsFiles writes a CA-signed ECDSA P-256 certificate and its key into dir.
func tlsFiles(dir string) (cert, key string, err error) {
	tb := &benchTB{}
	defer func() {
		if r := recover(); r != nil {
			if r != tb {
				panic(r)
			}
			err = tb.err
		}
	}()
	ca := testcert.NewCA(tb, "echobench CA")
	cert, key = ca.Server(tb, "localhost").Write(tb, dir, "server")
	return cert, key, nil
}

// tlsBench runs the servers of the TLS points: echogate (TLS on tlsPort, plain on plainPort) and the Go server.
type tlsBench struct {
	o                  *options
	dir, cert, key     string
	self               string
	tlsPort, plainPort int
	goPort             int
	realTime           bool // the isolation pinger may run at real-time priority (tls_isolation.go)
}

// measureTLS runs every TLS point.
func measureTLS(ctx context.Context, o *options) *tlsResult {
	res := &tlsResult{Echogate: tlsSide{Server: "echogate"}, GoServer: tlsSide{Server: "go crypto/tls"}}
	fail := func(err error) *tlsResult {
		res.Echogate.Err, res.GoServer.Err = err.Error(), err.Error()
		progress("tls: %v", err)
		return res
	}
	b := &tlsBench{o: o}
	var err error
	if b.dir, err = os.MkdirTemp("", "echobench-tls-"); err != nil {
		return fail(err)
	}
	defer os.RemoveAll(b.dir)
	if b.cert, b.key, err = tlsFiles(b.dir); err != nil {
		return fail(err)
	}
	if b.self, err = os.Executable(); err != nil {
		return fail(err)
	}
	ports, err := freeTCPPorts(3)
	if err != nil {
		return fail(err)
	}
	b.tlsPort, b.plainPort, b.goPort = ports[0], ports[1], ports[2]
	b.roundTrips(ctx, res)
	res.Socat = b.measureSocat(ctx)
	b.idle(ctx, &res.Echogate, true)
	b.idle(ctx, &res.GoServer, false)
	res.Isolation = b.isolation(ctx)
	return res
}

// start starts echogate (echogate true) or the Go server, fresh.
func (b *tlsBench) start(ctx context.Context, echogate bool) (*server, error) {
	if !echogate {
		return startServer(ctx, "go crypto/tls", "0", b.roleArgv("tls-server", map[string]string{
			"addr": fmt.Sprintf("127.0.0.1:%d", b.goPort), "cert": b.cert, "key": b.key}), b.goPort)
	}
	cfg := filepath.Join(b.dir, "echogate.toml")
	toml := fmt.Sprintf("[daemon]\nlog_level = \"warn\"\n\n[[listener]]\nname = \"tls\"\nprotocol = \"tcp\"\n"+
		"address = \"127.0.0.1:%d\"\ntls_cert_file = %q\ntls_key_file = %q\ntls_min_version = \"1.3\"\n"+
		"max_conns = 100000\n\n[[listener]]\nname = \"plain\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:%d\"\n",
		b.tlsPort, b.cert, b.key, b.plainPort)
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		return nil, err
	}
	return startServer(ctx, "echogate", "0", []string{b.o.echogate, "run", "-config", cfg, "-log-level", "warn"}, b.plainPort)
}

// roleArgv is the command that runs echobench again in role with args.
func (b *tlsBench) roleArgv(role string, args map[string]string) []string {
	js, _ := json.Marshal(args)
	return []string{"env", roleEnv + "=" + role, roleArgsEnv + "=" + string(js), b.self}
}

// load runs the load generator on CPU 1 and returns what it measured.
func (b *tlsBench) load(ctx context.Context, args map[string]string) (tlsLoadResult, error) {
	var r tlsLoadResult
	argv := pinned("1", b.roleArgv("tls-load", args))
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return r, fmt.Errorf("tls load %s: %w", args["mode"], err)
	}
	err = json.Unmarshal(out, &r)
	return r, err
}

// roundTrips measures CPU per round trip and full handshakes a second on both servers, interleaved.
func (b *tlsBench) roundTrips(ctx context.Context, res *tlsResult) {
	sides := [2]*tlsSide{&res.Echogate, &res.GoServer}
	var srvs [2]*server
	ports := [2]int{b.tlsPort, b.goPort}
	for i := range srvs {
		s, err := b.start(ctx, i == 0)
		if err != nil {
			sides[i].Err = err.Error()
			continue
		}
		srvs[i] = s
		defer s.stop()
	}
	dur := b.o.duration.String()
	var cpuRT, cpuHS [2]float64
	var hsSecs [2]float64
	var hsDone [2]uint64
	for r := 0; r < b.o.rounds && ctx.Err() == nil; r++ {
		for i, s := range srvs {
			if s == nil {
				continue
			}
			addr := fmt.Sprintf("127.0.0.1:%d", ports[i])
			lr, cpu, err := b.measured(ctx, s, map[string]string{"mode": "ping", "addr": addr, "conns": fmt.Sprint(tlsConns),
				"size": fmt.Sprint(tlsLineBytes), "duration": dur})
			if err != nil {
				sides[i].Err = err.Error()
				continue
			}
			sd := sides[i]
			sd.RoundTrips += lr.Done
			sd.Errors += lr.Errors
			cpuRT[i] += cpu.Seconds()
			sd.P99us = max(sd.P99us, lr.P99us)
			if lr.Done > 0 {
				sd.RunsUsPerRT = append(sd.RunsUsPerRT, round3(cpu.Seconds()*1e6/float64(lr.Done)))
			}
			hr, hcpu, err := b.measured(ctx, s, map[string]string{"mode": "handshake", "addr": addr,
				"conns": fmt.Sprint(tlsHSClients), "duration": dur})
			if err != nil {
				sides[i].Err = err.Error()
				continue
			}
			hsDone[i] += hr.Done
			hsSecs[i] += hr.Secs
			cpuHS[i] += hcpu.Seconds()
			sd.Errors += hr.Errors
			progress("tls round %d/%d, %s: %v µs/rt, %d handshakes in %.1f s", r+1, b.o.rounds, sd.Server,
				sd.RunsUsPerRT, hr.Done, hr.Secs)
		}
	}
	for i, sd := range sides {
		if sd.RoundTrips > 0 {
			sd.CPUusPerRT = round3(cpuRT[i] * 1e6 / float64(sd.RoundTrips))
		}
		if hsSecs[i] > 0 && hsDone[i] > 0 {
			sd.HandshakesPS = round3(float64(hsDone[i]) / hsSecs[i])
			sd.CPUusPerHS = round3(cpuHS[i] * 1e6 / float64(hsDone[i]))
		}
	}
}

// measured runs one load against s and returns it with the server CPU it took.
func (b *tlsBench) measured(ctx context.Context, s *server, args map[string]string) (tlsLoadResult, time.Duration, error) {
	before, err := processCPU(s.pid, false)
	if err != nil {
		return tlsLoadResult{}, 0, err
	}
	lr, err := b.load(ctx, args)
	if err != nil {
		return lr, 0, err
	}
	time.Sleep(300 * time.Millisecond) // the server closes what the load left
	after, err := processCPU(s.pid, false)
	return lr, after - before, err
}

// idle measures the RSS a fresh server needs per idle TLS connection at tlsIdleConns.
func (b *tlsBench) idle(ctx context.Context, sd *tlsSide, echogate bool) {
	s, err := b.start(ctx, echogate)
	if err != nil {
		sd.Err = err.Error()
		return
	}
	defer s.stop()
	port := b.goPort
	if echogate {
		port = b.tlsPort
	}
	time.Sleep(300 * time.Millisecond)
	before, err := procstat.RSSBytes(s.pid)
	if err != nil {
		sd.Err = err.Error()
		return
	}
	argv := pinned("1", b.roleArgv("tls-load", map[string]string{"mode": "hold",
		"addr": fmt.Sprintf("127.0.0.1:%d", port), "conns": fmt.Sprint(tlsIdleConns)}))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		sd.Err = err.Error()
		return
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	var held int
	if _, err := fmt.Sscanf(line, "held %d", &held); err != nil || held == 0 {
		sd.Err = fmt.Sprintf("hold: %q", strings.TrimSpace(line))
		return
	}
	time.Sleep(time.Second) // let the servers settle: echogate gives idle buffers back, Go's GC runs
	after, err := procstat.RSSBytes(s.pid)
	if err != nil {
		sd.Err = err.Error()
		return
	}
	sd.IdleBytes = round3(float64(after-before) / float64(held))
	progress("tls idle, %s: %d connections, %.0f B each", sd.Server, held, sd.IdleBytes)
}

// printTLS prints the TLS rows.
func printTLS(w io.Writer, r *tlsResult) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "\nTLS (%d connections, %d-byte lines, TLS 1.3; ECDSA P-256)\n", tlsConns, tlsLineBytes)
	fmt.Fprintf(w, "%-16s %10s %22s %8s %14s %12s %14s\n", "server", "µs/rt", "runs µs/rt", "p99 µs", "handshakes/s",
		"µs/hs", "idle B/conn")
	sides := []tlsSide{r.Echogate, r.GoServer}
	if r.Socat != nil {
		sides = append(sides, *r.Socat)
	}
	for _, s := range sides {
		fmt.Fprintf(w, "%-16s %10.3f %22s %8.0f %14.0f %12.0f %14.0f", s.Server, s.CPUusPerRT, fmt.Sprint(s.RunsUsPerRT),
			s.P99us, s.HandshakesPS, s.CPUusPerHS, s.IdleBytes)
		if s.Errors > 0 || s.Err != "" {
			fmt.Fprintf(w, "  (errors %d %s)", s.Errors, s.Err)
		}
		fmt.Fprintln(w)
	}
	if r.GoServer.CPUusPerRT > 0 {
		fmt.Fprintf(w, "echogate/go CPU per round trip: %.3f\n", r.Echogate.CPUusPerRT/r.GoServer.CPUusPerRT)
	}
	if i := r.Isolation; i != nil {
		fmt.Fprintf(w, "isolation, plain p99 µs, medians of %d rounds (C pinger, real-time %v): echogate quiet %.0f, "+
			"TLS listener at %d hs/s %.0f (×%.2f; each round over the quiet run before it: %v), "+
			"unbounded %.0f (×%.2f), plain listener at %d connections/s %.0f (×%.2f); "+
			"C loop beside the Go server: quiet %.0f, flooded %.0f (×%.2f) %s\n", len(i.Rounds), i.RealTime, i.QuietP99us,
			tlsFloodRate, i.CappedP99us, ratio(i.CappedP99us, i.QuietP99us), i.cappedRatios(), i.FloodP99us,
			ratio(i.FloodP99us, i.QuietP99us), tlsFloodRate, i.ChurnP99us, ratio(i.ChurnP99us, i.QuietP99us),
			i.RefQuietP99us, i.RefFloodP99us, ratio(i.RefFloodP99us, i.RefQuietP99us), i.Err)
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
