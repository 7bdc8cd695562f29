package listeners

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"echogate/config"
)

// gsoPlan is what each peer sends, in datagram sizes; the peers' datagrams are interleaved. Peer 0's run ends
// with a shorter datagram; peer 1 sends one run; peer 2's datagrams make three runs: one ended by a shorter
// datagram, one ended by a larger one, and a single datagram sent without segmentation; peer 3's empty
// datagram cannot be a segment (it would vanish in the run), so it ends a run and goes alone.
var gsoPlan = [][]int{
	{100, 100, 100, 40},
	{64, 64, 64, 64, 64, 64, 64},
	{200, 50, 200, 200, 300},
	{64, 64, 0, 64},
}

// Of gsoPlan, 8 messages: peer 0 one of 4 segments, peer 1 one of 7, peer 2 two of 2 and a plain one, peer 3
// one of 2 and two plain ones.
const (
	gsoPlanMessages  = 8
	gsoPlanSegmented = 4 + 7 + 2 + 2 + 2
)

// gsoCase is one server socket and where its clients send to.
type gsoCase struct {
	name    string
	bind    string // the server's address
	to      string // the address the clients send to (the server's port is added)
	from    string // the clients' address
	pktinfo bool   // a wildcard socket: replies carry their source address
}

// TestGSORepliesAreTheSameDatagrams sends gsoPlan from three peers to a real UDP socket, receives the
// datagrams in one batch, echoes them grouped into UDP_SEGMENT runs, and checks that every peer receives
// exactly the datagrams it sent, in its order, from the address it sent them to (the clients' sockets are
// connected, so a reply from any other address is not received). It counts the messages and segments.
func TestGSORepliesAreTheSameDatagrams(t *testing.T) {
	for _, tc := range []gsoCase{
		{"ipv4", "127.0.0.1:0", "127.0.0.1", "127.0.0.1:0", false},
		{"ipv6", "[::1]:0", "::1", "[::1]:0", false},
	} {
		t.Run(tc.name, func(t *testing.T) { checkGSORun(t, tc, gsoPlan, gsoPlanMessages, gsoPlanSegmented) })
	}
	t.Run("a full batch, every datagram from another peer", func(t *testing.T) {
		one := make([][]int, udpBatchSize)
		for p := range one {
			one[p] = []int{64}
		}
		checkGSORun(t, gsoCase{"ipv4", "127.0.0.1:0", "127.0.0.1", "127.0.0.1:0", false}, one, udpBatchSize, 0)
	})
	t.Run("a full batch of two peers", func(t *testing.T) {
		two := [][]int{slices.Repeat([]int{64}, udpBatchSize/2), slices.Repeat([]int{64}, udpBatchSize/2)}
		checkGSORun(t, gsoCase{"ipv4", "127.0.0.1:0", "127.0.0.1", "127.0.0.1:0", false}, two, 2, udpBatchSize)
	})
}

// TestGSOWildcard is the same on sockets bound to the wildcard, in a network namespace of the test's own,
// with clients sending to a second address of the host: each run's UDP_SEGMENT message also carries the
// IP_PKTINFO or IPV6_PKTINFO that makes it leave from that address.
func TestGSOWildcard(t *testing.T) {
	inNewNetns(t, [][]string{{"-6", "addr", "add", "fd00::5/128", "dev", "lo", "nodad"}})
	for _, tc := range []gsoCase{ // no subtests: they would run on other threads, outside the namespace
		{"ipv4", "0.0.0.0:0", "127.0.0.5", "127.0.0.1:0", true},
		{"ipv6", "[::]:0", "fd00::5", "[::1]:0", true},
	} {
		checkGSORun(t, tc, gsoPlan, gsoPlanMessages, gsoPlanSegmented)
	}
}

// TestGSORefusedFallsBack makes the kernel refuse a run: with a loopback MTU of 1500, a segment of 2000
// bytes is larger than the route allows (EINVAL). The run's datagrams still arrive, one by one, and the
// socket stops grouping.
func TestGSORefusedFallsBack(t *testing.T) {
	inNewNetns(t, [][]string{{"link", "set", "lo", "mtu", "1500"}})
	u := checkGSORun(t, gsoCase{"ipv4", "127.0.0.1:0", "127.0.0.1", "127.0.0.1:0", false},
		[][]int{{2000, 2000, 2000}, {100, 100}}, 2, 2)
	if !u.gsoRefused {
		t.Fatal("the socket still groups replies after the kernel refused a run")
	}
}

// checkGSORun runs one batch of plan through a server socket made as tc says and checks what the peers
// receive, the messages the batch was grouped into and the segments counted. It returns the endpoint.
func checkGSORun(t *testing.T, tc gsoCase, plan [][]int, wantMsgs int, wantSegs uint64) *udpEndpoint {
	srv := rawUDP(t, netip.MustParseAddrPort(tc.bind), netip.AddrPort{}, tc.pktinfo)
	port := localPort(t, srv)
	to := netip.AddrPortFrom(netip.MustParseAddr(tc.to), port)
	clients := make([]int, len(plan))
	sent := make([][][]byte, len(plan))
	for p := range plan {
		clients[p] = rawUDP(t, netip.MustParseAddrPort(tc.from), to, false)
	}
	total := 0
	for i := 0; ; i++ { // round robin: peer 0's i-th datagram, peer 1's, ...
		more := false
		for p, sizes := range plan {
			if i < len(sizes) {
				d := gsoPayload(p, i, sizes[i])
				if _, err := unix.Write(clients[p], d); err != nil {
					t.Fatalf("peer %d: send: %v", p, err)
				}
				sent[p] = append(sent[p], d)
				more, total = true, total+1
			}
		}
		if !more {
			break
		}
	}
	b := newUDPBatch()
	n, err := b.receive(srv, udpBatchSize, maxDatagram, tc.pktinfo)
	for errors.Is(err, unix.EINTR) {
		n, err = b.receive(srv, udpBatchSize, maxDatagram, tc.pktinfo)
	}
	if err != nil || n != total {
		t.Fatalf("%s: received %d datagrams in one batch (%v), want %d", tc.name, n, err, total)
	}
	for i := range n {
		ctl, ok := []byte(nil), true
		if tc.pktinfo {
			pktinfo, _ := b.control(i)
			if ctl, ok = replySource(pktinfo); !ok || len(ctl) == 0 {
				t.Fatalf("%s: datagram %d: no destination address", tc.name, i)
			}
		}
		b.queueReply(i, i, b.bufs[i][:b.hdrs[i].Len], ctl)
	}
	u := &udpEndpoint{boundSocket: boundSocket{fd: srv}, stats: &Counters{}}
	if m := b.gso.group(b, n); m != wantMsgs {
		t.Errorf("%s: %d replies grouped into %d messages, want %d", tc.name, n, m, wantMsgs)
	}
	if got, _ := b.sendReplies(u, n); got != n {
		t.Errorf("%s: sent %d of %d replies", tc.name, got, n)
	}
	if u.stats.UDPSegmented != wantSegs {
		t.Errorf("%s: udp_segmented = %d, want %d", tc.name, u.stats.UDPSegmented, wantSegs)
	}
	buf := make([]byte, maxDatagram)
	for p, want := range sent {
		for i, d := range want {
			k, err := readUDP(clients[p], buf)
			if err != nil || !bytes.Equal(buf[:k], d) {
				t.Fatalf("%s: peer %d, datagram %d: got %d bytes %.40q (%v), want %d bytes %.40q", tc.name, p, i,
					k, buf[:max(k, 0)], err, len(d), d)
			}
		}
	}
	return u
}

// gsoPayload is peer p's datagram i of size bytes: unique, so a reordered or mixed-up reply shows.
func gsoPayload(p, i, size int) []byte {
	d := bytes.Repeat([]byte{byte('a' + (p*7+i)%26)}, size)
	copy(d, fmt.Sprintf("p%d i%d ", p, i))
	return d
}

// rawUDP opens a UDP socket bound to addr, connected to peer unless it is zero, with destination reporting
// when pktinfo is set, and a one-second receive timeout; it is closed when the test ends.
func rawUDP(t *testing.T, addr, peer netip.AddrPort, pktinfo bool) int {
	t.Helper()
	family := unix.AF_INET
	if addr.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	if err := unix.Bind(fd, sockaddrOf(addr)); err != nil {
		t.Fatalf("bind %s: %v", addr, err)
	}
	if peer.IsValid() {
		if err := unix.Connect(fd, sockaddrOf(peer)); err != nil {
			t.Fatalf("connect %s: %v", peer, err)
		}
	}
	if pktinfo {
		if err := enablePktinfo(fd, addr.Addr().Is6()); err != nil {
			t.Fatal(err)
		}
	}
	tv := unix.Timeval{Sec: 1}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return fd
}

func sockaddrOf(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
	}
	return &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}
}

func localPort(t *testing.T, fd int) uint16 {
	t.Helper()
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sockaddrAddrPort(sa).Port()
}

// inNewNetns moves the test's goroutine, locked to its OS thread, into a new network namespace with its
// loopback up and the ip(8) commands of setup applied (a child inherits the namespace of the thread that
// starts it), so that the sockets the test opens from then on live there. The thread is never unlocked: Go
// ends it with the test's goroutine, so it is never reused in the wrong namespace. Subtests run on other
// threads, outside the namespace. It skips where a namespace cannot be made.
func inNewNetns(t *testing.T, setup [][]string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a network namespace needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip not installed")
	}
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	for _, args := range append([][]string{{"link", "set", "lo", "up"}}, setup...) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
}

// TestLoopUDPBurstsInOrder runs bursts of datagrams from several peers at once through the real loop, on IPv4
// and IPv6: every peer gets its datagrams back intact and in order, and the loop sent some of them as
// UDP_SEGMENT runs (udp_segmented).
func TestLoopUDPBurstsInOrder(t *testing.T) {
	l, addrs := startLoop(t, testListenerAt("u4", "127.0.0.1:0"), testListenerAt("u6", "[::1]:0"))
	for _, name := range []string{"u4", "u6"} {
		to := netip.MustParseAddrPort(addrs[name])
		errs := make(chan error, 4)
		for p := range cap(errs) {
			c := rawUDP(t, netip.AddrPortFrom(to.Addr(), 0), to, false)
			go func() { errs <- udpBursts(c, p, 100, 16) }()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		s := l.Snapshot().Listeners[name]
		t.Logf("%s: %d datagrams, %d sent as segments", name, s.Datagrams, s.UDPSegmented)
		if s.UDPSegmented == 0 || s.Datagrams != 4*100*16 {
			t.Errorf("%s: udp_segmented %d, datagrams %d; want some segmented, %d datagrams", name,
				s.UDPSegmented, s.Datagrams, 4*100*16)
		}
	}
}

// udpBursts sends bursts of n datagrams (the last one of each burst shorter) on the connected socket fd and
// checks each burst's echoes arrive intact and in order before it sends the next.
func udpBursts(fd, peer, bursts, n int) error {
	buf := make([]byte, 2048)
	for b := range bursts {
		for i := range n {
			if _, err := unix.Write(fd, gsoBurstPayload(peer, b, i, n)); err != nil {
				return fmt.Errorf("peer %d: send: %w", peer, err)
			}
		}
		for i := range n {
			k, err := readUDP(fd, buf)
			if want := gsoBurstPayload(peer, b, i, n); err != nil || !bytes.Equal(buf[:max(k, 0)], want) {
				return fmt.Errorf("peer %d burst %d datagram %d: got %.30q (%v), want %.30q", peer, b, i,
					buf[:max(k, 0)], err, want)
			}
		}
	}
	return nil
}

// readUDP is unix.Read retried when a signal interrupts it (the runtime's preemption or a collection): on a
// socket with SO_RCVTIMEO the kernel does not restart the call, it fails with EINTR.
func readUDP(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.Read(fd, buf)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// gsoBurstPayload is datagram i of burst b of peer: 64 bytes, the last of a burst 40.
func gsoBurstPayload(peer, b, i, n int) []byte {
	size := 64
	if i == n-1 {
		size = 40
	}
	return gsoPayload(peer, b*n+i, size)
}

func testListenerAt(name, addr string) config.Listener {
	lc := testListener(name, config.UDP)
	lc.Address = addr
	return lc
}

// BenchmarkLoopEchoUDPBurst is one burst of 16 datagrams from each of 4 peers through the loop, echoed as
// UDP_SEGMENT runs where a batch holds several of a peer's: no allocation per datagram.
func BenchmarkLoopEchoUDPBurst(b *testing.B) {
	_, addrs := startLoop(b, testListener("bench", config.UDP))
	to := netip.MustParseAddrPort(addrs["bench"])
	const peers, n = 4, 16
	var fds [peers]int
	for p := range fds {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer unix.Close(fd)
		if err := unix.Connect(fd, sockaddrOf(to)); err != nil {
			b.Fatal(err)
		}
		fds[p] = fd
	}
	var out [peers][n][]byte
	for p := range out {
		for i := range out[p] {
			out[p][i] = gsoBurstPayload(p, 0, i, n)
		}
	}
	buf := make([]byte, 2048)
	burst := func(seq uint64) {
		for i := range n {
			for p, fd := range fds {
				d := out[p][i]
				binary.BigEndian.PutUint64(d[8:], seq) // distinct payloads, as a load generator sends
				if _, err := unix.Write(fd, d); err != nil {
					b.Fatal(err)
				}
			}
		}
		for p, fd := range fds {
			for i := range n {
				if k, err := readUDP(fd, buf); err != nil || k != len(out[p][i]) {
					b.Fatalf("reply of %d bytes: %v", k, err)
				}
			}
		}
	}
	burst(0)
	b.SetBytes(peers * n * 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		burst(uint64(i + 1))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*peers*n), "ns/datagram")
}
