package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"echogate/internal/echotest"
	"echogate/internal/gso"
)

// soakConfig is the soak's config; variants change limits and add or remove the "extra" listener, so that
// every reload changes something. Well-behaved traffic stays within every variant's limits.
func soakConfig(variant int, tokenFile string, deniedPort int, control string) string {
	cfg := echotest.DaemonTOML(`stats_interval = "15s"`, fmt.Sprintf("control_socket = %q", control)) +
		echotest.TCP("echo", fmt.Sprintf(`idle_timeout = "%ds"`, 2+variant%2), `line_timeout = "0s"`,
			fmt.Sprintf("max_line = %d", []int{4096, 1024, 2048}[variant%3])) +
		echotest.TCP("slow", `line_timeout = "2s"`) +
		echotest.TCP("raw", `mode = "raw"`) +
		echotest.TCP("limited", "rate_lines = 20") +
		echotest.TCP("small", "max_conns = 8") +
		echotest.UDP("udp", fmt.Sprintf("udp_deny_source_ports = [7, 13, 17, 19, 37, %d]", deniedPort)) +
		echotest.UDP("udprl", "rate_datagrams = 50", "max_udp_peers = 32") +
		echotest.TCP("admin", fmt.Sprintf("token_file = %q", tokenFile))
	if variant%2 == 1 {
		cfg += echotest.TCP("extra")
	}
	return cfg
}

// soakTally counts well-behaved round trips and hostile actions, from many goroutines.
type soakTally struct {
	good, failed, hostile atomic.Int64
	anomalies             atomic.Int64 // hostile clients that were not treated as the rules say
	mu                    sync.Mutex
	errs                  []string
}

func (s *soakTally) fail(anomaly bool, format string, args ...any) {
	if anomaly {
		s.anomalies.Add(1)
	} else {
		s.failed.Add(1)
	}
	s.mu.Lock()
	if len(s.errs) < 20 {
		s.errs = append(s.errs, fmt.Sprintf(format, args...))
	}
	s.mu.Unlock()
}

// soak runs the workers until stop is closed.
type soak struct {
	t       *testing.T
	control string // the daemon's control socket
	stop    chan struct{}
	wg      sync.WaitGroup
	tally   soakTally
}

func (s *soak) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// loop runs fn every pause in a goroutine until the soak stops.
func (s *soak) loop(pause time.Duration, fn func(r *rand.Rand)) {
	s.wg.Add(1)
	seed := uint64(time.Now().UnixNano())
	go func() {
		defer s.wg.Done()
		r := rand.New(rand.NewPCG(seed, 1))
		for !s.stopped() {
			fn(r)
			select { // a long pause must not hold up the soak's end
			case <-s.stop:
			case <-time.After(pause):
			}
		}
	}()
}

// goodTCP does up to 200 round trips of random short lines on one connection.
func (s *soak) goodTCP(addr string, pause time.Duration) func(r *rand.Rand) {
	return func(r *rand.Rand) {
		c, err := echotest.DialErr(addr, echotest.DialOptions{Deadline: 15 * time.Second})
		if err != nil {
			s.tally.fail(false, "dial %s: %v", addr, err)
			return
		}
		defer c.Close()
		got := make([]byte, 512)
		for k := 0; k < 200 && !s.stopped(); k++ {
			line := fmt.Sprintf("good %d %s\n", k, strings.Repeat("abcdefgh", r.IntN(40)))
			c.SetDeadline(time.Now().Add(15 * time.Second))
			if _, err := io.WriteString(c, line); err != nil {
				s.tally.fail(false, "write %s: %v", addr, err)
				return
			}
			if _, err := io.ReadFull(c, got[:len(line)]); err != nil || string(got[:len(line)]) != line {
				s.tally.fail(false, "round trip %s: got %q, %v", addr, got[:len(line)], err)
				return
			}
			s.tally.good.Add(1)
			time.Sleep(pause)
		}
	}
}

// goodUDP does one datagram round trip.
func (s *soak) goodUDP(u *net.UDPConn, addr string) func(r *rand.Rand) {
	buf := make([]byte, 2048)
	return func(r *rand.Rand) {
		msg := fmt.Sprintf("udp good %d\n", r.Uint64())
		u.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := u.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr))); err != nil {
			s.tally.fail(false, "udp write: %v", err)
			return
		}
		n, err := u.Read(buf)
		if err != nil || string(buf[:n]) != msg {
			s.tally.fail(false, "udp round trip: got %q, %v", buf[:n], err)
			return
		}
		s.tally.good.Add(1)
	}
}

// goodUDPRun sends eight datagrams as one UDP_SEGMENT run, which the daemon's socket receives whole
// (UDP_GRO) through every reload, and checks that their echoes come back as they were sent, in order.
func (s *soak) goodUDPRun(u *net.UDPConn, addr string) func(r *rand.Rand) {
	to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr))
	buf := make([]byte, 2048)
	return func(r *rand.Rand) {
		const n, size = 8, 32
		run, base := make([]byte, 0, n*size), r.Uint64()
		for i := range n {
			run = fmt.Appendf(run, "udp run %016x %06d\n", base, i) // 32 bytes
		}
		u.SetDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := u.WriteMsgUDP(run, gso.Control(size), to); err != nil {
			s.tally.fail(false, "udp run write: %v", err)
			return
		}
		for i := range n {
			k, err := u.Read(buf)
			if want := run[i*size : (i+1)*size]; err != nil || !bytes.Equal(buf[:k], want) {
				s.tally.fail(false, "udp run datagram %d: got %q, %v; want %q", i, buf[:k], err, want)
				return
			}
		}
		s.tally.good.Add(1)
	}
}

func TestSoak(t *testing.T) {
	spec := os.Getenv("ECHOGATE_SOAK")
	if spec == "" {
		t.Skip("set ECHOGATE_SOAK to a duration (e.g. 2m) to run the soak; `make soak` does")
	}
	dur, err := time.ParseDuration(spec)
	if err != nil || dur <= 0 {
		t.Fatalf("ECHOGATE_SOAK=%q: want a duration such as 2m", spec)
	}
	tokenFile := filepath.Join(t.TempDir(), "shutdown.token")
	if err := os.WriteFile(tokenFile, []byte("soak-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	denied, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer denied.Close()
	deniedPort := denied.LocalAddr().(*net.UDPAddr).Port
	control := filepath.Join(t.TempDir(), "control.sock")
	// The log is at debug level (a line per connection) and its reader stalls for 6 s in every 9: the
	// loop must go on serving while the pipe is full, and reloads are confirmed through the control socket,
	// not by log lines that a stalled reader may make the daemon drop.
	logs := &stallingReader{}
	d := echotest.Start(t, soakConfig(0, tokenFile, deniedPort, control), echotest.Options{
		LogReader: func(stderr io.ReadCloser) io.Reader { logs.r = stderr; return logs }})
	start := d.Usage()
	t.Logf("soak start: %v", start)

	s := &soak{t: t, stop: make(chan struct{}), control: control}
	s.loop(3*time.Second, func(*rand.Rand) { s.stallLog(logs, 6*time.Second) })
	addr := map[string]string{}
	for _, n := range []string{"echo", "slow", "raw", "limited", "small", "udp", "udprl", "admin"} {
		addr[n] = d.Addr(n)
	}
	for range 4 {
		s.loop(0, s.goodTCP(addr["echo"], 5*time.Millisecond))
	}
	s.loop(0, s.goodTCP(addr["raw"], 5*time.Millisecond))
	s.loop(0, s.goodTCP(addr["limited"], 100*time.Millisecond))
	for range 2 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		s.loop(5*time.Millisecond, s.goodUDP(u, addr["udp"]))
	}
	run, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	s.loop(5*time.Millisecond, s.goodUDPRun(run, addr["udp"]))
	trickle := s.startHostile(addr, denied)
	loops := s.startLoops(addr)

	end := time.Now().Add(dur)
	reloads := 0
	for variant := 1; time.Until(end) > 0; variant++ {
		time.Sleep(min(5*time.Second, time.Until(end)))
		s.reload(d, soakConfig(variant, tokenFile, deniedPort, control))
		reloads++
		if variant%2 == 1 {
			s.goodTCP(s.addrOf("extra"), 0)(rand.New(rand.NewPCG(1, 2)))
		}
	}
	close(s.stop)
	s.wg.Wait()
	trickle()
	if reloads%2 == 1 { // back to the first config: no "extra" listener, so the descriptors can be compared
		s.reload(d, soakConfig(reloads+1, tokenFile, deniedPort, control))
	}
	if _, ok := soakRecv(denied, 200*time.Millisecond); ok {
		t.Error("a denied source port got a reply")
	}
	fds := d.WaitFDs(start.FDs, 15*time.Second)
	final := d.Usage()
	st := echotest.Stats(t, addr["echo"])
	loops(st)
	t.Logf("soak end:   %v (after %v, %d reloads)", final, dur, reloads)
	t.Logf("well-behaved round trips: %d ok, %d failed; hostile actions: %d, not handled as expected: %d",
		s.tally.good.Load(), s.tally.failed.Load(), s.tally.hostile.Load(), s.tally.anomalies.Load())
	t.Logf("daemon: total_clients=%d reloads_ok=%d reloads_failed=%d logs_dropped=%d log stalls=%d",
		st.TotalClients, st.ReloadsOK, st.ReloadsFailed, st.LogsDropped, logs.stalls.Load())
	for _, n := range []string{"echo", "slow", "small", "udp", "udprl", "admin"} {
		t.Logf("  %-6s %+v", n, st.Listeners[n])
	}
	for _, e := range s.tally.errs {
		t.Log(e)
	}
	if s.tally.failed.Load() > 0 {
		t.Errorf("%d well-behaved round trips failed", s.tally.failed.Load())
	}
	if st.Listeners["udp"].UDPCoalesced == 0 {
		t.Error("no datagram of the UDP_SEGMENT runs reached the daemon coalesced (udp_coalesced 0)")
	}
	if s.tally.anomalies.Load() > 0 {
		t.Errorf("%d hostile clients were not handled as the rules say", s.tally.anomalies.Load())
	}
	if grown := final.RSSKiB - start.RSSKiB; grown > 64<<10 {
		t.Errorf("daemon RSS grew by %d KiB over the soak: a leak?", grown)
	}
	if fds != start.FDs {
		t.Errorf("daemon has %d descriptors open at the end, %d at the start", fds, start.FDs)
	}
	if err := d.Stop(); err != nil {
		t.Errorf("exit: %v", err)
	}
}

// reload writes cfg over the config file (a rename, as editors do), then asks for the reload through the
// control socket, which waits for it: the watcher may have applied it already ("unchanged" then).
func (s *soak) reload(d *echotest.Daemon, cfg string) {
	s.t.Helper()
	echotest.SaveAtomic(s.t, d.Config, cfg)
	out, errOut, code := echotest.RunCLI(s.t, "reload", "-control", s.control)
	if code != 0 || !strings.HasPrefix(out, "ok generation=") {
		s.t.Errorf("reload: exit %d: %s%s", code, out, errOut)
	}
}

// addrOf is the address listener name is bound to, as `echogate status` reports it: the log line that
// says so may be late while the log's reader stalls.
func (s *soak) addrOf(name string) string {
	s.t.Helper()
	out, errOut, code := echotest.RunCLI(s.t, "status", "-json", "-control", s.control)
	var st struct {
		Listeners []struct{ Name, Address string } `json:"listeners"`
	}
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
		s.t.Fatalf("status: exit %d, %v: %s", code, err, errOut)
	}
	for _, l := range st.Listeners {
		if l.Name == name {
			return l.Address
		}
	}
	s.t.Fatalf("status names no listener %q", name)
	return ""
}

// stallLog stalls the daemon's log reader for d and checks that well-behaved clients kept being served in
// the second half of the stall, when a daemon that wrote its log synchronously would have filled the pipe
// (64 KiB, about 2.5 s of this soak's debug lines) and stopped.
func (s *soak) stallLog(logs *stallingReader, d time.Duration) {
	logs.stallFor(d)
	var before int64
	for i, wait := range []time.Duration{d / 2, d - d/2} {
		select {
		case <-s.stop:
			return
		case <-time.After(wait):
		}
		if i == 0 {
			before = s.tally.good.Load()
		}
	}
	if done := s.tally.good.Load() - before; done < 100 {
		s.tally.fail(true, "only %d round trips in the second half of a %v log stall", done, d)
	}
}

// stallingReader passes the daemon's stderr through, except while stalled: then it reads nothing, as a
// stopped log shipper would, and the pipe fills up.
type stallingReader struct {
	r      io.Reader
	until  atomic.Int64 // unix ns until which reads wait
	stalls atomic.Int64
}

func (l *stallingReader) stallFor(d time.Duration) {
	l.until.Store(time.Now().Add(d).UnixNano())
	l.stalls.Add(1)
}

func (l *stallingReader) Read(p []byte) (int, error) {
	for time.Now().UnixNano() < l.until.Load() {
		time.Sleep(20 * time.Millisecond)
	}
	return l.r.Read(p)
}
