package listeners

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
	"echogate/policy"
)

// threadCPU is the CPU time of the calling thread: on the loop's own thread, loop time that other processes
// on a busy machine do not inflate.
func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// statsListeners is how many listeners the /stats json benchmarks serve.
const statsListeners = 10000

// BenchmarkStatsJSON10k measures what one /stats json request costs the loop with 10 000 UDP listeners: over
// UDP, an unpadded request followed by an echo probe, against the probe alone; and on the loop itself, the
// CPU time runCommand takes on the loop's thread to answer it as it would over TCP (loop-ns/req).
func BenchmarkStatsJSON10k(b *testing.B) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < statsListeners+100 {
		b.Skipf("needs %d file descriptors (RLIMIT_NOFILE %d, %v)", statsListeners+100, lim.Cur, err)
	}
	ls := make([]config.Listener, statsListeners)
	for i := range ls {
		ls[i] = testListener(fmt.Sprintf("u%05d", i), config.UDP)
	}
	l, addrs := startLoop(b, ls...)
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addrs["u00000"]))
	buf := make([]byte, 70000)
	seq := 0
	probe := func(b *testing.B, request string) {
		for i := 0; i < b.N; i++ {
			if request != "" {
				if _, err := c.WriteToUDP([]byte(request), to); err != nil {
					b.Fatal(err)
				}
			}
			seq++ // a distinct probe each time, as a client sends: the loop guard drops fast repeats
			p := fmt.Appendf(nil, "probe %d", seq)
			if _, err := c.WriteToUDP(p, to); err != nil {
				b.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, _, err := c.ReadFromUDP(buf); err != nil || string(buf[:n]) != string(p) {
				b.Fatalf("probe reply %q: %v", buf[:n], err)
			}
		}
	}
	b.Run("udp-probe", func(b *testing.B) { probe(b, "") })
	b.Run("udp-stats-json+probe", func(b *testing.B) { probe(b, "/stats json") })
	b.Run("udp-stats-json-name+probe", func(b *testing.B) { probe(b, "/stats json u00001") })
	for _, line := range []string{"/stats json", "/stats json u00001", "/stats"} {
		b.Run("loop "+line, func(b *testing.B) {
			var pol *policy.Policy
			var st *Counters
			l.Call(func() { pol, st = l.udp["u00000"].pol, l.udp["u00000"].stats })
			peer := netip.MustParseAddrPort("127.0.0.1:1")
			var out []byte
			var spent time.Duration
			for i := 0; i < b.N; i++ {
				l.Call(func() {
					t0 := threadCPU(b)
					out = l.runCommand(out[:0], pol, st, peer, []byte(line+"\n"), false)
					spent += threadCPU(b) - t0
				})
			}
			b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N), "loop-ns/req")
			b.ReportMetric(float64(len(out)), "reply-bytes")
		})
	}
	// What the request that finds the cache too old pays: a new serialisation of the listeners that changed
	// (none, or all of them), and after a reload a new sorted list of listeners too.
	for _, tc := range []struct {
		name           string
		reload, change bool
	}{{"loop rebuild", false, false}, {"loop rebuild all changed", false, true}, {"loop rebuild after reload", true, false}} {
		b.Run(tc.name, func(b *testing.B) {
			var spent time.Duration
			for i := 0; i < b.N; i++ {
				l.Call(func() {
					if tc.change {
						for _, c := range l.stats.byName {
							c.Datagrams++
						}
					}
					t0 := threadCPU(b)
					if l.statsJSON.valid = false; tc.reload {
						l.statsJSON.invalidate()
					}
					l.cachedStatsJSON()
					spent += threadCPU(b) - t0
				})
			}
			b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N), "loop-ns/req")
		})
	}
}
