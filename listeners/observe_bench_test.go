package listeners

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
)

// BenchmarkObserve measures what one /metrics scrape costs the loop: the CPU time of its hand-off on the
// loop's own thread (loop-ns/scrape), with half TCP and half UDP listeners; ns/op is the whole Observe, the
// getsockopt of every socket included.
func BenchmarkObserve(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			var lim unix.Rlimit
			if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < uint64(n)+100 {
				b.Skipf("needs %d file descriptors (RLIMIT_NOFILE %d, %v)", n+100, lim.Cur, err)
			}
			ls := make([]config.Listener, n)
			for i := range ls {
				proto := config.TCP
				if i%2 == 1 {
					proto = config.UDP
				}
				ls[i] = testListener(fmt.Sprintf("l%05d", i), proto)
			}
			l, _ := startLoop(b, ls...)
			var loopTime time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				views := make([]ListenerView, 0, n) // as Observe makes it, off the loop
				l.Call(func() {
					start := threadCPU(b)
					_ = l.observe(views)
					loopTime += threadCPU(b) - start
				})
				o, ok := l.Observe(time.Second)
				if !ok || len(o.Listeners) != n || !o.Listeners[0].Kernel.OK {
					b.Fatalf("observed %d listeners (kernel view %v)", len(o.Listeners), o.Listeners[0].Kernel)
				}
			}
			b.ReportMetric(float64(loopTime.Nanoseconds())/float64(b.N), "loop-ns/scrape")
		})
	}
}
