package main

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"
)

// loadExtra is one of the rotating listeners the load test adds, moves and removes.
type loadExtra struct{ name, proto, addr string }

// loadExtras lists the extra listeners of config version v: extra-k for the last three k, so every version
// adds one and removes one; every fourth is UDP, they alternate between 127.0.0.1 and 127.0.0.2, and every
// third moves to the other address in the version after the one that added it.
func loadExtras(v int) []loadExtra {
	var out []loadExtra
	for k := max(1, v-2); k <= v; k++ {
		proto := "tcp"
		if k%4 == 3 {
			proto = "udp"
		}
		host := 1 + k%2
		if k%3 == 0 && v > k {
			host = 3 - host
		}
		out = append(out, loadExtra{fmt.Sprintf("extra-%d", k), proto, fmt.Sprintf("127.0.0.%d:0", host)})
	}
	return out
}

// loadMaxLine is the max_line of the kept TCP listener in version v: it changes with every version.
func loadMaxLine(v int) int { return 100 + v }

// loadVersionTOML is version v of the load test's config.
func loadVersionTOML(v int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# version %d\n[daemon]\nstats_interval = \"0s\"\n", v)
	fmt.Fprintf(&b, "\n[[listener]]\nname = \"main\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\nmax_line = %d\n",
		loadMaxLine(v))
	b.WriteString("\n[[listener]]\nname = \"dgram\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:0\"\n")
	for _, x := range loadExtras(v) {
		fmt.Fprintf(&b, "\n[[listener]]\nname = %q\nprotocol = %q\naddress = %q\n", x.name, x.proto, x.addr)
	}
	return b.String()
}

const loadConns = 200

// TestReloadUnderLoad rewrites the config 50 times in the ways operators and tools do while 200 TCP
// connections and a UDP client keep echoing on listeners that stay; every change must be visible at once,
// every rejected file must leave the old config serving, and no echoed byte may be lost.
func TestReloadUnderLoad(t *testing.T) {
	start := time.Now()
	cm := echotest.NewConfigMap(t, loadVersionTOML(0))
	d := echotest.Start(t, "", echotest.Options{NoConfig: true, Args: []string{"-config", cm.Path()}})
	mainAddr := d.Addr("main")

	p := &pingers{stop: make(chan struct{}), rounds: make([]atomic.Int64, loadConns+1)}
	for i := 0; i < loadConns; i++ {
		c := echotest.DialTCP(t, mainAddr)
		p.wg.Add(1)
		go p.tcp(i, c)
	}
	uc, err := net.Dial("udp", d.Addr("dgram"))
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	p.wg.Add(1)
	go p.udp(loadConns, uc)
	defer p.halt()
	probe := echotest.DialTCP(t, mainAddr) // a connection opened before every reload, to see new limits at its next line

	r := &loadRun{t: t, d: d, cm: cm, probe: probe, addrs: map[string]string{}}
	r.run()
	t.Logf("50 rewrites in %s: %d applied, %d rejected", time.Since(start).Round(time.Millisecond), r.version, r.rejected)

	p.awaitProgress(t)
	p.halt()
	var total int64
	for i := range p.rounds {
		total += p.rounds[i].Load()
	}
	if n := p.errs.Load(); n > 0 {
		t.Fatalf("%d connection errors, first: %q", n, p.first)
	}
	t.Logf("%d round trips, all bytes intact, no connection error", total)

	s := echotest.StatsOn(t, probe)
	if s.ReloadsOK != uint64(r.version) || s.ReloadsFailed != uint64(r.rejected) {
		t.Errorf("/stats json: reloads_ok=%d reloads_failed=%d, want %d and %d", s.ReloadsOK, s.ReloadsFailed,
			r.version, r.rejected)
	}
	if m := s.Listeners["main"]; m.Accepted < loadConns || m.ReloadsOK != uint64(r.version) {
		t.Errorf("main: %+v", m)
	}
	r.reportTimes()
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if took := time.Since(start); took > 60*time.Second {
		t.Logf("note: the test took %s, more than its 60s budget", took)
	}
}

// holdPorts keeps a TCP and a UDP socket bound for the test, for files that must fail with "address in use".
func holdPorts(t *testing.T) (tcp, udp string) {
	return echotest.HoldTCP(t, "127.0.0.1:0"), echotest.ListenUDP(t, "127.0.0.2:0").LocalAddr().String()
}

// reportTimes logs the spread of took= and loop_pause= over the reloads.
func (r *loadRun) reportTimes() {
	var took, pause []time.Duration
	for _, l := range r.d.LinesAfter(0, "msg=reload result=") {
		if v, ok := echotest.LogDuration(l, "took"); ok {
			took = append(took, v)
		}
		if v, ok := echotest.LogDuration(l, "loop_pause"); ok {
			pause = append(pause, v)
		}
	}
	spread := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return "none"
		}
		slices.Sort(ds)
		return fmt.Sprintf("min %s median %s max %s", ds[0], ds[len(ds)/2], ds[len(ds)-1])
	}
	r.t.Logf("reload took: %s; loop_pause: %s (%d reloads, %d connections open)", spread(took), spread(pause),
		len(took), loadConns+2)
}

// loadRun drives the 50 rewrites of TestReloadUnderLoad and checks each outcome.
type loadRun struct {
	t                 *testing.T
	d                 *echotest.Daemon
	cm                *echotest.ConfigMap
	probe             net.Conn
	addrs             map[string]string // where each live extra listener serves
	version, rejected int
	heldTCP, heldUDP  string
	methods           map[string]int
}

// loadRejects are the steps that write a bad file, and what is wrong with it.
var loadRejects = map[int]string{5: "syntax", 14: "tcp-port-taken", 23: "unknown-key", 32: "bad-value",
	41: "udp-port-taken"}

func (r *loadRun) run() {
	r.heldTCP, r.heldUDP = holdPorts(r.t)
	r.methods = map[string]int{}
	for step := 0; step < 50; step++ {
		if kind, ok := loadRejects[step]; ok {
			r.reject(step, kind)
		} else {
			r.apply()
		}
	}
	r.t.Logf("write methods: %v", r.methods)
}

// loadSlowPause is how long the slow writer holds the truncated file open: longer than the watcher's
// debounce, so a watcher that acted on writes would apply the empty file.
const loadSlowPause = 2 * watchDebounce

// write saves content in one of four ways: rename over the file, in place through the symlink, a
// ConfigMap-style swap of the ..data symlink, or a slow writer that truncates the file through the symlink,
// pauses and only then writes it.
func (r *loadRun) write(method int, content string) {
	switch method % 4 {
	case 0:
		r.methods["rename"]++
		echotest.SaveAtomic(r.t, r.cm.File(), content)
	case 1:
		r.methods["in-place"]++
		echotest.SaveInPlace(r.t, r.cm.Path(), content)
	case 2:
		r.methods["symlink-swap"]++
		r.cm.Swap(r.t, content)
	default:
		r.methods["slow-writer"]++
		echotest.SlowWrite(r.t, r.cm.Path(), "", content, loadSlowPause, func() {})
	}
}

// apply writes the next version, waits for the reload and checks that every change is visible. Every fourth
// version is written in place and followed by SIGHUP; the watcher must then skip the same content.
func (r *loadRun) apply() {
	r.version++
	v := r.version
	mark := r.d.LogLines()
	if v%4 == 0 {
		r.methods["in-place+SIGHUP"]++
		echotest.SaveInPlace(r.t, r.cm.Path(), loadVersionTOML(v))
		r.d.Signal(syscall.SIGHUP)
	} else {
		r.write(v-v/4, loadVersionTOML(v)) // v-v/4 counts the versions written without SIGHUP: every method in turn
	}
	r.d.AwaitReload(r.t, mark)
	if v%4 == 0 {
		if _, err := r.d.WaitLogAfter(mark, "config file unchanged", 10*time.Second); err != nil {
			r.t.Fatalf("version %d: the watcher did not skip the content SIGHUP already applied: %v", v, err)
		}
	}
	r.verify(true)
}

// reject writes a bad file and checks that it is refused and the running config keeps serving. Each bad
// file is the next version plus one mistake, so applying any part of it would show.
func (r *loadRun) reject(step int, kind string) {
	next, want := loadVersionTOML(r.version+1), ""
	switch kind {
	case "syntax":
		next, want = next+"\n[[listener]\nname = \"broken\"\n", "echogate.toml:"
	case "tcp-port-taken":
		next, want = next+echotest.TCPListener("blocker", r.heldTCP), "address already in use"
	case "unknown-key":
		next, want = next+echotest.TCPListener("typo", "127.0.0.1:0", "max_lines = 80"), "max_lines"
	case "bad-value":
		next, want = next+echotest.TCPListener("zero", "127.0.0.1:0", "max_line = 0"), "max_line"
	case "udp-port-taken":
		next = next + fmt.Sprintf("\n[[listener]]\nname = \"blocker\"\nprotocol = \"udp\"\naddress = %q\n", r.heldUDP)
		want = "address already in use"
	}
	mark := r.d.LogLines()
	r.write(step, next)
	if line := r.d.AwaitReloadFailed(r.t, mark); !strings.Contains(line, want) {
		r.t.Errorf("%s: failure log %q does not mention %q", kind, line, want)
	}
	r.rejected++
	r.verify(false)
}

// verify checks the running config is version r.version. After a reload (applied) it first checks that
// removed and moved-away addresses refuse; then that every extra listener answers and that the kept
// listener enforces this version's max_line on a new connection and on one opened before every reload.
func (r *loadRun) verify(applied bool) {
	v := r.version
	cur := loadExtras(v)
	if applied {
		prev := map[string]loadExtra{}
		for _, x := range loadExtras(v - 1) {
			prev[x.name] = x
		}
		for _, x := range cur {
			addr := r.d.Addr(x.name)
			if old, ok := r.addrs[x.name]; ok && prev[x.name].addr != x.addr {
				if addr == old {
					r.t.Fatalf("version %d: %s did not move from %s", v, x.name, old)
				}
				echotest.ExpectRefused(r.t, x.proto, old)
			}
			delete(prev, x.name)
			r.addrs[x.name] = addr
		}
		for name, x := range prev {
			echotest.ExpectRefused(r.t, x.proto, r.addrs[name])
			delete(r.addrs, name)
		}
	}
	for _, x := range cur {
		msg := fmt.Sprintf("%s answers in version %d\n", x.name, v)
		if x.proto == "udp" {
			echotest.UDPEcho(r.t, r.addrs[x.name], msg)
		} else {
			echotest.TCPEcho(r.t, r.addrs[x.name], msg)
		}
	}
	c := echotest.DialTCP(r.t, r.d.Addr("main"))
	checkMaxLine(r.t, c, loadMaxLine(v))
	c.Close()
	checkMaxLine(r.t, r.probe, loadMaxLine(v))
}
