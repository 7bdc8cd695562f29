package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"echogate/internal/procstat"
)

// The STAMP point (-only stamp) measures echogate's STAMP reflector twice over, with cmd/stampsend as the
// sender pinned to CPU 1 and the servers to CPU 0:
//   - its CPU per reflected packet against the UDP echo path's CPU per datagram, one session at
//     stampCPURate of bare 44-octet packets to each listener of one echogate, interleaved;
//   - the reflector turnaround T3 − T2 that a sender reads from the reflected timestamps, p99, against a
//     minimal C reflector (cmd/echoload/cbaseline/stamp.c), interleaved, at each of stampRates, with the
//     CPUs left to idle and with CPU 0 kept busy by a spinner at the lowest priority: a halted vCPU takes
//     hundreds of µs to wake, which any reflector pays unless the CPU never sleeps.

// stampRates are the sending rates of the turnaround runs, packets per second.
var stampRates = []int{2000, 20000}

// stampCPURate is the rate of the CPU runs.
const stampCPURate = 20000

// stampReport is the result of the STAMP point.
type stampReport struct {
	CPU        stampCPU    `json:"cpu"`
	Turnaround []stampTurn `json:"turnaround"`
	Err        string      `json:"error,omitempty"`
}

// stampCPU is server CPU per packet, µs, of the stamp and echo listeners of one echogate.
type stampCPU struct {
	RatePPS  int       `json:"rate_pps"`
	EchoUS   float64   `json:"echo_cpu_us_per_packet"`
	StampUS  float64   `json:"stamp_cpu_us_per_packet"`
	Ratio    float64   `json:"ratio"`
	EchoRuns []float64 `json:"echo_runs"`
	StampRun []float64 `json:"stamp_runs"`
}

// stampTurn is the turnaround p99 of both reflectors at one rate and CPU condition, µs.
type stampTurn struct {
	RatePPS  int       `json:"rate_pps"`
	Busy     bool      `json:"cpu_kept_busy"`
	CP99     float64   `json:"c_p99_us"`
	EgP99    float64   `json:"echogate_p99_us"`
	Ratio    float64   `json:"ratio"`
	CRuns    []float64 `json:"c_runs"`
	EgRuns   []float64 `json:"echogate_runs"`
	Received []int     `json:"received"` // of each run, C then echogate
}

// stampSession is what the harness reads from stampsend's JSON line.
type stampSession struct {
	Sent       int `json:"sent"`
	Received   int `json:"received"`
	Duplicates int `json:"duplicates"` // an echo server returns the test packet, whose fields repeat
	Turnaround struct {
		P99 float64 `json:"p99"`
	} `json:"turnaround_us"`
}

// measureStamp runs the STAMP point.
func measureStamp(ctx context.Context, o *options) *stampReport {
	rep := &stampReport{}
	dir, err := os.MkdirTemp("", "echobench-stamp")
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	defer os.RemoveAll(dir)
	eg, egPort, echoPort, err := startStampEchogate(ctx, o, dir)
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	defer eg.stop()
	cPort, err := freePort()
	var c *server
	if err == nil {
		c, err = startServer(ctx, "C reflector", "0", []string{o.stampC, "-p", strconv.Itoa(cPort)}, cPort)
	}
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	defer c.stop()
	if rep.CPU, err = stampCPUPoint(ctx, o, eg, egPort, echoPort); err != nil {
		rep.Err = err.Error()
		return rep
	}
	for _, busy := range []bool{false, true} {
		for _, rate := range stampRates {
			t, err := stampTurnPoint(ctx, o, rate, busy, [2]int{cPort, egPort})
			rep.Turnaround = append(rep.Turnaround, t)
			if err != nil {
				rep.Err = err.Error()
				return rep
			}
		}
	}
	return rep
}

// startStampEchogate starts echogate with a STAMP listener and a UDP echo listener (and a TCP one on the
// STAMP port, which startServer dials to know it is up), its config in dir.
func startStampEchogate(ctx context.Context, o *options, dir string) (*server, int, int, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, 0, err
	}
	echo, err := freePort()
	if err != nil {
		return nil, 0, 0, err
	}
	conf := fmt.Sprintf("[[listener]]\nname = \"ready\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:%d\"\n"+
		"[[listener]]\nname = \"stamp\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:%d\"\nmode = \"stamp\"\n"+
		"[[listener]]\nname = \"echo\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:%d\"\n", port, port, echo)
	path := filepath.Join(dir, "stamp.toml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, 0, 0, err
	}
	s, err := startServer(ctx, "echogate", "0", []string{o.echogate, "run", "-config", path, "-log-level", "warn"}, port)
	return s, port, echo, err
}

// stampCPUPoint sends the same session to the echo and the stamp listener in turn, round after round.
func stampCPUPoint(ctx context.Context, o *options, eg *server, stampPort, echoPort int) (stampCPU, error) {
	r := stampCPU{RatePPS: stampCPURate}
	var cpu [2]time.Duration
	var pkts [2]int
	for round := 0; round < o.rounds && ctx.Err() == nil; round++ {
		for i, port := range []int{echoPort, stampPort} {
			before, err := procstat.CPU(eg.pid)
			if err != nil {
				return r, err
			}
			sess, err := runStampsend(ctx, o, port, stampCPURate)
			if err != nil {
				return r, err
			}
			after, err := settledCPU(eg.pid)
			replies := sess.Received + sess.Duplicates
			if err != nil || replies == 0 {
				return r, fmt.Errorf("echogate: %v, %d replies; stderr: %s", err, replies, eg.log.tail(5))
			}
			cpu[i] += after - before
			pkts[i] += replies
			per := round3(float64((after - before).Microseconds()) / float64(replies))
			if i == 0 {
				r.EchoRuns = append(r.EchoRuns, per)
			} else {
				r.StampRun = append(r.StampRun, per)
			}
			progress("stamp cpu, round %d/%d, %s: %.3f µs/packet", round+1, o.rounds, []string{"echo", "stamp"}[i], per)
		}
	}
	r.EchoUS = round3(float64(cpu[0].Microseconds()) / float64(max(pkts[0], 1)))
	r.StampUS = round3(float64(cpu[1].Microseconds()) / float64(max(pkts[1], 1)))
	if r.EchoUS > 0 {
		r.Ratio = round3(r.StampUS / r.EchoUS)
	}
	return r, nil
}

// stampTurnPoint measures the turnaround p99 of the C reflector and echogate at rate, interleaved, with
// CPU 0 kept busy when busy.
func stampTurnPoint(ctx context.Context, o *options, rate int, busy bool, ports [2]int) (stampTurn, error) {
	t := stampTurn{RatePPS: rate, Busy: busy}
	if busy {
		stop, err := spinCPU0(o.duration*time.Duration(2*o.rounds) + 30*time.Second)
		if err != nil {
			return t, err
		}
		defer stop()
	}
	for round := 0; round < o.rounds && ctx.Err() == nil; round++ {
		for i, port := range ports {
			sess, err := runStampsend(ctx, o, port, rate)
			if err != nil {
				return t, err
			}
			t.Received = append(t.Received, sess.Received)
			if i == 0 {
				t.CRuns = append(t.CRuns, sess.Turnaround.P99)
			} else {
				t.EgRuns = append(t.EgRuns, sess.Turnaround.P99)
			}
			progress("stamp turnaround %d/s busy=%v, round %d/%d, %s: p99 %.1f µs", rate, busy, round+1, o.rounds,
				[]string{"C", "echogate"}[i], sess.Turnaround.P99)
		}
	}
	// The median of the rounds: one round that caught a stall of the host decides a mean.
	t.CP99, t.EgP99 = round3(median(t.CRuns)), round3(median(t.EgRuns))
	if t.CP99 > 0 {
		t.Ratio = round3(t.EgP99 / t.CP99)
	}
	return t, nil
}

// runStampsend sends one session of o.duration at rate to 127.0.0.1:port and decodes its JSON line.
func runStampsend(ctx context.Context, o *options, port, rate int) (stampSession, error) {
	count := int(float64(rate) * o.duration.Seconds())
	args := []string{o.stampsend, "-json", "-tlvs=false", "-count", strconv.Itoa(count), "-rate", strconv.Itoa(rate),
		"-wait", "500ms", fmt.Sprintf("127.0.0.1:%d", port)}
	ctx, cancel := context.WithTimeout(ctx, o.duration+30*time.Second)
	defer cancel()
	full := pinned("1", args)
	out, err := exec.CommandContext(ctx, full[0], full[1:]...).Output()
	var s stampSession
	if jerr := json.Unmarshal([]byte(lastLines(string(out), 1)), &s); jerr != nil {
		return s, fmt.Errorf("stampsend %s: %v (%v)", strings.Join(args[1:], " "), jerr, err)
	}
	return s, nil
}

// spinCPU0 keeps CPU 0 from idling with a busy loop at nice 19, so the reflector's CPU never halts; stop
// ends it. It runs in a process group of its own, and stop kills that group: killing the first process alone
// (timeout, after taskset and nice exec it) would leave its shell spinning. Should the harness die first,
// timeout ends the loop after bound.
func spinCPU0(bound time.Duration) (stop func(), err error) {
	argv := pinned("0", []string{"nice", "-n", "19", "timeout", strconv.Itoa(int(bound.Seconds())), "sh", "-c",
		"while :; do :; done"})
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("spinner: %w", err)
	}
	pgid := cmd.Process.Pid
	return func() { _ = syscall.Kill(-pgid, syscall.SIGKILL); _ = cmd.Wait() }, nil
}

// printStamp prints the STAMP point's rows.
func printStamp(w io.Writer, r *stampReport) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "stamp: CPU per packet at %d/s, echo %.3f µs, stamp %.3f µs, ratio %s (runs: echo %v, stamp %v)\n",
		r.CPU.RatePPS, r.CPU.EchoUS, r.CPU.StampUS, ratioCell(r.CPU.Ratio), r.CPU.EchoRuns, r.CPU.StampRun)
	for _, t := range r.Turnaround {
		cond := "CPUs idle"
		if t.Busy {
			cond = "CPU 0 busy"
		}
		fmt.Fprintf(w, "stamp: turnaround p99 at %d/s, %s: C %.1f µs, echogate %.1f µs, ratio %s (runs: C %v, echogate %v)\n",
			t.RatePPS, cond, t.CP99, t.EgP99, ratioCell(t.Ratio), t.CRuns, t.EgRuns)
	}
	if r.Err != "" {
		fmt.Fprintln(w, "stamp: error:", r.Err)
	}
}
