package listeners

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
	"echogate/internal/gso"
	"echogate/internal/stamp"
	"echogate/policy"
)

// sendRun sends datagrams on the connected socket fd as one UDP_SEGMENT message: the kernel keeps them as
// one packet of equal segments (the last may be shorter) up to a receiver that asks for UDP_GRO.
func sendRun(t *testing.T, fd int, datagrams [][]byte) {
	t.Helper()
	var run []byte
	for _, d := range datagrams {
		run = append(run, d...)
	}
	if err := unix.Sendmsg(fd, run, gso.Control(len(datagrams[0])), nil, 0); err != nil {
		t.Fatalf("sendmsg UDP_SEGMENT of %d datagrams: %v", len(datagrams), err)
	}
}

// expectDatagrams reads len(want) datagrams from fd and checks each against want, in order.
func expectDatagrams(t *testing.T, fd int, want [][]byte) {
	t.Helper()
	buf := make([]byte, maxDatagram)
	for i, w := range want {
		k, err := readUDP(fd, buf)
		if err != nil || !bytes.Equal(buf[:max(k, 0)], w) {
			t.Fatalf("datagram %d: got %d bytes %.60q (%v), want %d bytes %.60q", i, k, buf[:max(k, 0)], err, len(w), w)
		}
	}
}

// groRun is n datagrams of size bytes from peer p, the last one last bytes.
func groRun(p, n, size, last int) [][]byte {
	run := make([][]byte, n)
	for i := range run {
		run[i] = gsoPayload(p, i, size)
	}
	run[n-1] = gsoPayload(p, n-1, last)
	return run
}

// TestGRORunsAreAnsweredOneByOne sends runs of datagrams as UDP_SEGMENT packets, which the loop's echo
// sockets receive whole (UDP_GRO): every datagram comes back as itself, in order, on IPv4 and IPv6, with a
// run longer than the reply queue (100 datagrams, 32 reply slots) and runs of two peers interleaved, and
// each is counted as a datagram that came coalesced.
func TestGRORunsAreAnsweredOneByOne(t *testing.T) {
	l, addrs := startLoop(t, testListenerAt("u4", "127.0.0.1:0"), testListenerAt("u6", "[::1]:0"))
	for _, name := range []string{"u4", "u6"} {
		to := netip.MustParseAddrPort(addrs[name])
		a := rawUDP(t, netip.AddrPortFrom(to.Addr(), 0), to, false)
		b := rawUDP(t, netip.AddrPortFrom(to.Addr(), 0), to, false)
		total := 0
		for _, tc := range []struct {
			fd   int
			runs [][][]byte
		}{
			{a, [][][]byte{groRun(0, 16, 64, 40)}},
			{a, [][][]byte{groRun(1, 100, 64, 64)}},
			{a, [][][]byte{groRun(2, 8, 1000, 999), groRun(3, 3, 200, 1)}},
		} {
			for _, run := range tc.runs {
				sendRun(t, tc.fd, run)
				total += len(run)
			}
			for _, run := range tc.runs {
				expectDatagrams(t, tc.fd, run)
			}
		}
		ra, rb := groRun(4, 20, 64, 64), groRun(5, 20, 100, 10)
		sendRun(t, a, ra)
		sendRun(t, b, rb)
		expectDatagrams(t, a, ra)
		expectDatagrams(t, b, rb)
		total += len(ra) + len(rb)
		n := countersOn(l, name)
		t.Logf("%s: %d datagrams, %d came coalesced, %d replies sent as segments", name, n.Datagrams,
			n.UDPCoalesced, n.UDPSegmented)
		if n.Datagrams != uint64(total) || n.UDPCoalesced != uint64(total) || n.UDPDropped != 0 {
			t.Errorf("%s: datagrams %d, udp_coalesced %d, udp_dropped %d; want %d, %d, 0", name, n.Datagrams,
				n.UDPCoalesced, n.UDPDropped, total, total)
		}
	}
}

// TestGRORunRules checks that the rules of single datagrams hold for each datagram of a run: a command in
// the middle of a run is answered with its longer reply and the datagrams after it are intact,
// max_datagram truncates each datagram on its own (and one that comes alone, though the socket's reads are
// no longer cut by the kernel), and the echo-loop guard counts identical datagrams one by one.
func TestGRORunRules(t *testing.T) {
	small := testListenerAt("small", "127.0.0.1:0")
	small.MaxDatagram = 32
	l, addrs := startLoop(t, testListenerAt("u", "127.0.0.1:0"), small)
	dial := func(name string) int {
		to := netip.MustParseAddrPort(addrs[name])
		return rawUDP(t, netip.AddrPortFrom(to.Addr(), 0), to, false)
	}
	buf := make([]byte, maxDatagram)

	t.Run("commands", func(t *testing.T) {
		fd := dial("u")
		whoami := []byte(fmt.Sprintf("%-15s\n", "/whoami"))
		run := [][]byte{gsoPayload(0, 0, 16), whoami, gsoPayload(0, 2, 16), whoami, gsoPayload(0, 4, 16)}
		sendRun(t, fd, run)
		for i, d := range run {
			k, err := readUDP(fd, buf)
			got := buf[:max(k, 0)]
			switch {
			case err != nil:
				t.Fatalf("datagram %d: %v", i, err)
			case bytes.Equal(d, whoami) && (!bytes.Contains(got, []byte(" proto=udp ")) || k <= len(d)):
				t.Fatalf("datagram %d: /whoami answered %q", i, got)
			case !bytes.Equal(d, whoami) && !bytes.Equal(got, d):
				t.Fatalf("datagram %d: got %q, want %q", i, got, d)
			}
		}
	})

	t.Run("max_datagram", func(t *testing.T) {
		fd := dial("small")
		run := [][]byte{gsoPayload(0, 0, 40), gsoPayload(0, 1, 40), gsoPayload(0, 2, 20)}
		sendRun(t, fd, run)
		expectDatagrams(t, fd, [][]byte{[]byte(replyDatagramTooLong), []byte(replyDatagramTooLong), run[2]})
		if _, err := unix.Write(fd, gsoPayload(0, 3, 33)); err != nil { // alone: the socket's reads are not cut
			t.Fatal(err)
		}
		expectDatagrams(t, fd, [][]byte{[]byte(replyDatagramTooLong)})
		if n := countersOn(l, "small"); n.UDPTruncated != 3 || n.UDPCoalesced != 3 || n.Datagrams != 4 {
			t.Errorf("udp_truncated %d, udp_coalesced %d, datagrams %d; want 3, 3, 4", n.UDPTruncated,
				n.UDPCoalesced, n.Datagrams)
		}
	})

	t.Run("loop guard", func(t *testing.T) {
		fd := dial("u")
		same := bytes.Repeat([]byte("x"), 48)
		const n = 30
		before := countersOn(l, "u")
		sendRun(t, fd, slicesOf(same, n))
		expectDatagrams(t, fd, slicesOf(same, policy.LoopRepeatBurst))
		if k, err := readUDP(fd, buf); err == nil {
			t.Fatalf("a datagram over the loop guard's burst was answered: %q", buf[:k])
		}
		after := countersOn(l, "u")
		if got := after.UDPLoopDropped - before.UDPLoopDropped; got != n-policy.LoopRepeatBurst {
			t.Errorf("udp_loop_dropped +%d, want +%d", got, n-policy.LoopRepeatBurst)
		}
	})
}

// TestGROOffForStamp turns an echo listener into a STAMP reflector by a reload, and back, and then by a
// rename that hands its socket to a new reflector. A reflector's socket does not ask for UDP_GRO (each test
// packet needs its own kernel receive time), so the kernel cuts a run of test packets up and each one is
// reflected; back in echo mode, runs arrive whole again.
func TestGROOffForStamp(t *testing.T) {
	echo := testListenerAt("x", "127.0.0.1:0")
	refl := stampListener("x", false)
	l, addrs := startLoop(t, echo)
	to := netip.MustParseAddrPort(addrs["x"])
	fd := rawUDP(t, netip.AddrPortFrom(to.Addr(), 0), to, false)
	gro := func() (on bool) {
		l.Call(func() { on = l.udp["x"].gro })
		return on
	}
	echoRun := func(p int) {
		run := groRun(p, 4, 64, 64)
		sendRun(t, fd, run)
		expectDatagrams(t, fd, run)
	}
	echoRun(0)
	reloadLoop(t, l, []config.Listener{echo}, []config.Listener{refl})
	if gro() {
		t.Fatal("a STAMP socket asks for UDP_GRO")
	}
	stampRun(t, fd)
	if n := countersOn(l, "x"); n.StampReflected != 4 || n.UDPCoalesced != 4 {
		t.Errorf("stamp_reflected %d, udp_coalesced %d; want 4, 4 (the echo run only)", n.StampReflected, n.UDPCoalesced)
	}
	reloadLoop(t, l, []config.Listener{refl}, []config.Listener{echo})
	echoRun(1)
	if n := countersOn(l, "x"); !gro() || n.UDPCoalesced != 8 {
		t.Errorf("back in echo mode: UDP_GRO %v, udp_coalesced %d; want true, 8", gro(), n.UDPCoalesced)
	}
	// Renamed to a reflector on the same address, the socket is handed to a new endpoint, which turns it off.
	renamed := refl
	renamed.Name, renamed.Address = "y", addrs["x"]
	was := echo
	was.Address = addrs["x"]
	reloadLoop(t, l, []config.Listener{was}, []config.Listener{renamed})
	stampRun(t, fd)
	if n := countersOn(l, "y"); n.StampReflected != 4 || n.UDPCoalesced != 0 {
		t.Errorf("after the rename: stamp_reflected %d, udp_coalesced %d; want 4, 0 (the kernel cuts the run)",
			n.StampReflected, n.UDPCoalesced)
	}
}

// TestGROFoundOnPassedSocket serves an echo listener on a socket passed as systemd does, with UDP_GRO
// already on (as the echogate before a restart left it), by a loop that has turned it on nowhere: a /whoami
// in the middle of a run is still answered in full, from the batch's spill buffer, and the datagrams around
// it come back as themselves.
func TestGROFoundOnPassedSocket(t *testing.T) {
	lc := testListenerAt("u", fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0]))
	passed, err := Bind(&lc)
	if err != nil {
		t.Fatal(err)
	}
	passed.Inherited = true
	t.Cleanup(func() { _ = unix.Close(passed.FD) })
	if err := unix.SetsockoptInt(passed.FD, unix.SOL_UDP, unix.UDP_GRO, 1); err != nil {
		t.Fatal(err)
	}
	other := testListener("t", config.TCP)
	l, _ := startLoop(t, other)
	activated := func(lc *config.Listener) (Binding, bool, error) { return passed, lc.Name == "u", nil }
	applyPlan(t, l, config.PlanActivated(&config.Config{Listeners: []config.Listener{other}},
		&config.Config{Listeners: []config.Listener{other, lc}}, map[string]bool{"u": true}), activated)
	to := netip.MustParseAddrPort(lc.Address)
	fd := rawUDP(t, netip.AddrPortFrom(to.Addr(), 0), to, false)
	whoami := []byte(fmt.Sprintf("%-15s\n", "/whoami"))
	run := [][]byte{gsoPayload(0, 0, 16), whoami, gsoPayload(0, 2, 16)}
	sendRun(t, fd, run)
	buf := make([]byte, maxDatagram)
	for i, d := range run {
		k, err := readUDP(fd, buf)
		got := buf[:max(k, 0)]
		if err != nil || bytes.Equal(d, whoami) != bytes.Contains(got, []byte(" proto=udp ")) ||
			!bytes.Equal(d, whoami) && !bytes.Equal(got, d) {
			t.Fatalf("datagram %d: got %q (%v), sent %q", i, got, err, d)
		}
	}
	if n := countersOn(l, "u"); n.UDPCoalesced != 3 {
		t.Errorf("udp_coalesced %d, want 3", n.UDPCoalesced)
	}
}

// TestGRORunQueuedAcrossReloadToStamp queues a run of four STAMP test packets, whole, on an echo socket
// (UDP_GRO on) while the loop is busy, and applies a reload that makes the listener a reflector (in place,
// and by a rename that hands the socket on) before the loop has read it. The kernel gives a run's datagram
// size only while UDP_GRO is on, so the run is answered before it is turned off: each packet reflected on
// its own, none read as one large packet.
func TestGRORunQueuedAcrossReloadToStamp(t *testing.T) {
	for _, renamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("renamed %v", renamed), func(t *testing.T) {
			echo := testListenerAt("x", "127.0.0.1:0")
			l, addrs := startLoop(t, echo)
			to := netip.MustParseAddrPort(addrs["x"])
			fd := rawUDP(t, netip.AddrPortFrom(to.Addr(), 0), to, false)
			echo.Address = addrs["x"]
			refl := stampListener("x", false)
			if refl.Address = addrs["x"]; renamed {
				refl.Name = "y"
			}
			plan := config.Plan(&config.Config{Daemon: testDaemon(), Listeners: []config.Listener{echo}},
				&config.Config{Daemon: testDaemon(), Listeners: []config.Listener{refl}})
			binds, err := Prepare(plan, nil)
			if err != nil {
				t.Fatal(err)
			}
			var res Result
			var queued error
			l.Call(func() { // the loop reads nothing until this returns
				queued = queueRun(fd, l.udp["x"].fd, stampTestRun())
				res = l.Apply(testDaemon(), plan, binds)
			})
			if queued != nil || len(res.Errors) > 0 {
				t.Fatalf("queue the run: %v; reload: %v", queued, res.Errors)
			}
			expectReflected(t, fd, 4)
			if n := countersOn(l, refl.Name); n.StampReflected != 4 || n.StampMalformed != 0 || n.UDPCoalesced != 4 {
				t.Errorf("stamp_reflected %d, stamp_malformed %d, udp_coalesced %d; want 4, 0, 4", n.StampReflected,
					n.StampMalformed, n.UDPCoalesced)
			}
		})
	}
}

// queueRun sends run from fd as one UDP_SEGMENT message and waits until the socket at is has it queued.
func queueRun(fd, at int, run [][]byte) error {
	if err := unix.Sendmsg(fd, bytes.Join(run, nil), gso.Control(len(run[0])), nil, 0); err != nil {
		return err
	}
	for range 1000 {
		if n, err := unix.IoctlGetInt(at, unix.SIOCINQ); err != nil || n > 0 {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("the run was not queued within a second")
}

// stampTestRun is four unauthenticated STAMP test packets, sequence numbers 0 to 3.
func stampTestRun() [][]byte {
	run := make([][]byte, 4)
	for i := range run {
		run[i] = make([]byte, stamp.UnauthSize)
		stamp.PutTest(run[i], stamp.Test{Seq: uint32(i)}, false)
	}
	return run
}

// stampRun sends four STAMP test packets as one UDP_SEGMENT run on fd and checks that each is reflected
// on its own, in order: the reflector's socket must not ask for UDP_GRO.
func stampRun(t *testing.T, fd int) {
	t.Helper()
	sendRun(t, fd, stampTestRun())
	expectReflected(t, fd, 4)
}

// expectReflected reads n STAMP replies on fd and checks that they answer test packets 0 to n-1, in order.
func expectReflected(t *testing.T, fd, n int) {
	t.Helper()
	buf := make([]byte, 2048)
	for i := range n {
		k, err := readUDP(fd, buf)
		if err != nil || k != stamp.UnauthSize {
			t.Fatalf("reply %d: %d octets (%v)", i, k, err)
		}
		if r, _ := stamp.ParseReply(buf[:k], false); r.SenderSeq != uint32(i) {
			t.Fatalf("reply %d answers test packet %d", i, r.SenderSeq)
		}
	}
}

// slicesOf is n times d.
func slicesOf(d []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = d
	}
	return out
}
