package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"echogate/internal/echotest"
	"echogate/listeners"
	"echogate/policy"
)

// startLoops adds forged echo loops to the soak's hostile mix (it needs CAP_NET_RAW; without it, it does
// nothing): datagrams to the "udp" listener whose source is the daemon's own "udprl" listener, and datagrams
// whose source is an echo server of the test's own, which answers everything echogate sends it. The check it
// returns, given the final /stats json, makes sure that no own-socket datagram was answered and that every
// loop with the other echo server stopped within the guard's burst.
func (s *soak) startLoops(addr map[string]string) (check func(listeners.Snapshot)) {
	udp, own := netip.MustParseAddrPort(addr["udp"]), netip.MustParseAddrPort(addr["udprl"])
	if err := echotest.SendForged(own, udp, []byte("probe for CAP_NET_RAW")); err != nil {
		s.t.Logf("no forged loops in the soak: %v", err)
		return func(listeners.Snapshot) {}
	}
	echo, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		s.t.Fatal(err)
	}
	var echoed atomic.Int64
	go func() { // the other echo server, until the soak closes it
		buf := make([]byte, 65536)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echoed.Add(1)
			_, _ = echo.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	peer := echo.LocalAddr().(*net.UDPAddr).AddrPort()
	var ownSent, loops atomic.Int64
	ownSent.Add(1) // the probe
	s.loop(200*time.Millisecond, func(r *rand.Rand) {
		if echotest.SendForged(own, udp, fmt.Appendf(nil, "from udprl %d\n", r.Uint64())) == nil {
			ownSent.Add(1)
			s.tally.hostile.Add(1)
		}
		if echotest.SendForged(peer, udp, fmt.Appendf(nil, "ping-pong %d\n", r.Uint64())) == nil {
			loops.Add(1)
			s.tally.hostile.Add(1)
		}
	})
	return func(st listeners.Snapshot) {
		echo.Close()
		got, bound := echoed.Load(), loops.Load()*(policy.LoopRepeatBurst+1)
		s.t.Logf("forged loops: %d from the daemon's own udprl, %d with another echo server, which echoed %d "+
			"datagrams (at most %d); udp_loop_dropped on udp: %d", ownSent.Load(), loops.Load(), got, bound,
			st.Listeners["udp"].UDPLoopDropped)
		if dropped := st.Listeners["udp"].UDPLoopDropped; dropped < uint64(ownSent.Load()) {
			s.tally.fail(true, "udp_loop_dropped %d, fewer than the %d datagrams forged from udprl", dropped,
				ownSent.Load())
		}
		if got > bound {
			s.tally.fail(true, "the other echo server echoed %d datagrams for %d loops, more than %d", got,
				loops.Load(), bound)
		}
	}
}
