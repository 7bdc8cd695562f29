package main

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"echogate/internal/echotest"

	"golang.org/x/sys/unix"
)

// Socket activation end to end: the test binds the sockets, as PID 1 does for .socket units, and starts the
// real binary with them as fds 3.. and LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES set.

// passedSocket is one socket the test passes to the daemon.
type passedSocket struct {
	name string   // its LISTEN_FDNAMES entry
	addr string   // where it is bound
	file *os.File // the copy the daemon gets; the test keeps its own open, as systemd does
	ln   net.Listener
	pc   net.PacketConn
}

// passTCP binds a TCP listener with net.Listen (Go makes it MPTCP where the kernel allows).
func passTCP(t *testing.T, name string) passedSocket {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := passNet(t, name, ln.(*net.TCPListener))
	p.addr, p.ln = ln.Addr().String(), ln
	return p
}

// passUDP binds a UDP socket.
func passUDP(t *testing.T, name string) passedSocket {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := passNet(t, name, pc.(*net.UDPConn))
	p.addr, p.pc = pc.LocalAddr().String(), pc
	return p
}

// passNet is a socket the net package bound, passed as a copy of its fd; both are closed when the test ends.
func passNet(t *testing.T, name string, s interface {
	File() (*os.File, error)
	Close() error
}) passedSocket {
	t.Helper()
	t.Cleanup(func() { s.Close() })
	f, err := s.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return passedSocket{name: name, file: f}
}

// passPlainTCP binds a listening socket with IPPROTO_TCP, as systemd's ListenStream= does.
func passPlainTCP(t *testing.T, name string) passedSocket {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), name)
	t.Cleanup(func() { f.Close() })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return passedSocket{name: name, addr: "127.0.0.1:" + strconv.Itoa(sa.(*unix.SockaddrInet4).Port), file: f}
}

// activated passes socks as fds 3.. the way systemd does; named sets LISTEN_FDNAMES.
func activated(socks []passedSocket, named bool) echotest.Options {
	o := echotest.Options{Wrap: echotest.ViaShell("LISTEN_PID"), Env: []string{"LISTEN_FDS=" + strconv.Itoa(len(socks))}}
	var names []string
	for _, s := range socks {
		o.Files = append(o.Files, s.file)
		names = append(names, s.name)
	}
	if named {
		o.Env = append(o.Env, "LISTEN_FDNAMES="+strings.Join(names, ":"))
	}
	return o
}

// expectAdopted checks that the daemon logged adopting s as fd for listener, and serves it there.
func expectAdopted(t *testing.T, d *echotest.Daemon, listener string, fd int, s passedSocket) {
	t.Helper()
	want := "listener=" + listener + " fd=" + strconv.Itoa(fd) + " addr=" + s.addr
	if _, err := d.WaitLog("adopting socket from systemd", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitLog(want, 0); err != nil {
		t.Fatalf("no adoption logged with %q: %v", want, err)
	}
	if got := d.Addr(listener); got != s.addr {
		t.Fatalf("listener %s serves %s, want the passed socket %s", listener, got, s.addr)
	}
}

// Named sockets go to the listener of the same name, whatever their order, and each keeps its own limits.
func TestActivationNamedSockets(t *testing.T) {
	t.Parallel()
	socks := []passedSocket{passUDP(t, "b-udp"), passTCP(t, "a-tcp"), passTCP(t, "b-tcp"), passUDP(t, "a-udp")}
	toml := echotest.UnboundListener("a-tcp", "tcp", "max_line = 8") + echotest.UnboundListener("b-tcp", "tcp") +
		echotest.UnboundListener("a-udp", "udp", "max_datagram = 8") + echotest.UnboundListener("b-udp", "udp")
	d := echotest.Start(t, toml, activated(socks, true))
	for i, s := range socks {
		expectAdopted(t, d, s.name, 3+i, s)
	}
	nine := "123456789\n"
	a := echotest.DialTCP(t, d.Addr("a-tcp"))
	echotest.RoundTrip(t, a, nine, "ERR too-long-line\n")
	echotest.RoundTrip(t, a, "1234567\n", "1234567\n")
	b := echotest.DialTCP(t, d.Addr("b-tcp"))
	echotest.RoundTrip(t, b, nine, nine)

	long := strings.Repeat("d", 30)
	if got := echotest.UDPExchange(t, d.Addr("a-udp"), long); got != "ERR datagram-truncated\n" {
		t.Errorf("a-udp (max_datagram 8), 30 bytes: got %q", got)
	}
	if got := echotest.UDPExchange(t, d.Addr("a-udp"), "8 bytes!"); got != "8 bytes!" {
		t.Errorf("a-udp, 8 bytes: got %q", got)
	}
	if got := echotest.UDPExchange(t, d.Addr("b-udp"), long); got != long {
		t.Errorf("b-udp, 30 bytes: got %q", got)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	// echogate only closed its copies: the sockets still listen (shutdown(2) would have broken them).
	for _, s := range socks {
		if s.ln != nil {
			expectStillListening(t, s)
		}
	}
}

// expectStillListening checks that the test's own copy of a passed TCP socket still accepts.
func expectStillListening(t *testing.T, s passedSocket) {
	t.Helper()
	accepted := make(chan error, 1)
	go func() {
		c, err := s.ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	c := echotest.DialTCP(t, s.addr)
	defer c.Close()
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatalf("%s: accept after the daemon exited: %v", s.name, err)
		}
	case <-time.After(10 * time.Second):
		s.ln.Close()
		t.Fatalf("%s: the socket no longer accepts after the daemon exited", s.name)
	}
}

// Without LISTEN_FDNAMES every socket is "unknown"; with exactly one tcp and one udp listener they are
// matched by type, whatever their order.
func TestActivationUnnamedByType(t *testing.T) {
	t.Parallel()
	socks := []passedSocket{passUDP(t, ""), passTCP(t, "")}
	d := echotest.Start(t, echotest.UnboundListener("t", "tcp", "max_line = 8")+echotest.UnboundListener("u", "udp"),
		activated(socks, false))
	expectAdopted(t, d, "u", 3, socks[0])
	expectAdopted(t, d, "t", 4, socks[1])
	c := echotest.DialTCP(t, socks[1].addr)
	echotest.RoundTrip(t, c, "123456789\n", "ERR too-long-line\n")
	echotest.RoundTrip(t, c, "unnamed\n", "unnamed\n")
	if got := echotest.UDPExchange(t, socks[0].addr, "by type"); got != "by type" {
		t.Errorf("udp: got %q", got)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// Go's own TCP listeners report SO_PROTOCOL 262 (MPTCP); systemd's report 6. Both are TCP to echogate.
func TestActivationMPTCPAndPlainTCP(t *testing.T) {
	t.Parallel()
	mp, plain := passTCP(t, "mptcp"), passPlainTCP(t, "plain")
	rc, err := mp.ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	proto := 0
	rc.Control(func(fd uintptr) { proto, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL) })
	if err != nil {
		t.Fatal(err)
	}
	if proto != unix.IPPROTO_MPTCP {
		t.Logf("net.Listen gave SO_PROTOCOL %d, not MPTCP (kernel without MPTCP?): the MPTCP case is not exercised", proto)
	}
	d := echotest.Start(t, echotest.UnboundListener("mptcp", "tcp")+echotest.UnboundListener("plain", "tcp"),
		activated([]passedSocket{mp, plain}, true))
	expectAdopted(t, d, "mptcp", 3, mp)
	expectAdopted(t, d, "plain", 4, plain)
	echotest.RoundTrip(t, echotest.DialTCP(t, mp.addr), "via mptcp socket\n", "via mptcp socket\n")
	echotest.RoundTrip(t, echotest.DialTCP(t, plain.addr), "via tcp socket\n", "via tcp socket\n")
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// A passed socket no listener claims is logged and left alone; the daemon serves the rest, and a later reload
// that adds a listener of that name adopts it.
func TestActivationUnclaimedSocket(t *testing.T) {
	t.Parallel()
	echo, stray := passTCP(t, "echo"), passUDP(t, "stray")
	d := echotest.Start(t, echotest.UnboundListener("echo", "tcp"), activated([]passedSocket{echo, stray}, true))
	line, err := d.WaitLog("no listener claims", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "name=stray") || !strings.Contains(line, "addr="+stray.addr) {
		t.Errorf("unclaimed socket log: %s", line)
	}
	echotest.RoundTrip(t, echotest.DialTCP(t, echo.addr), "still serving\n", "still serving\n")

	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, echotest.UnboundListener("echo", "tcp")+echotest.UnboundListener("stray", "udp"))
	d.AwaitReload(t, mark)
	if got := d.Addr("stray"); got != stray.addr {
		t.Fatalf("stray serves %s, want %s", got, stray.addr)
	}
	if got := echotest.UDPExchange(t, stray.addr, "adopted later"); got != "adopted later" {
		t.Errorf("udp: got %q", got)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// socketInode is the inode of f's socket, as /proc/PID/fd shows it ("socket:[N]").
func socketInode(t *testing.T, f *os.File) string {
	t.Helper()
	fi, err := f.Stat() // fstat; f.Fd() would switch the shared socket to blocking mode
	if err != nil {
		t.Fatal(err)
	}
	return "socket:[" + strconv.FormatUint(fi.Sys().(*syscall.Stat_t).Ino, 10) + "]"
}

// holdsSocket reports whether process pid has an fd open on the socket with the given inode link.
func holdsSocket(t *testing.T, pid int, inode string) bool {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if link, err := os.Readlink(dir + "/" + e.Name()); err == nil && link == inode {
			return true
		}
	}
	return false
}

// A reload that removes adopted listeners takes their sockets out of service but keeps them open (systemd
// holds them too, so clients still connect and queue); a later reload that brings the names back serves the
// same sockets again, queued clients first.
func TestActivationReloadRemovesAndReadopts(t *testing.T) {
	t.Parallel()
	keep, gone, goneUDP := passTCP(t, "keep"), passTCP(t, "gone"), passUDP(t, "gone-udp")
	all := echotest.UnboundListener("keep", "tcp") + echotest.UnboundListener("gone", "tcp") + echotest.UnboundListener("gone-udp", "udp")
	d := echotest.Start(t, all, activated([]passedSocket{keep, gone, goneUDP}, true))
	echotest.RoundTrip(t, echotest.DialTCP(t, gone.addr), "before\n", "before\n")

	mark := d.LogLines()
	echotest.SaveAtomic(t, d.Config, echotest.UnboundListener("keep", "tcp"))
	d.AwaitReload(t, mark)
	for _, s := range []passedSocket{gone, goneUDP} {
		if !holdsSocket(t, d.Pid(), socketInode(t, s.file)) {
			t.Errorf("%s: the daemon closed the inherited socket", s.name)
		}
	}
	u, err := net.Dial("udp", goneUDP.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Write([]byte("queued datagram")); err != nil {
		t.Fatal(err)
	}
	queued := echotest.DialTCP(t, gone.addr) // the kernel completes the handshake: the socket still listens
	if _, err := queued.Write([]byte("queued\n")); err != nil {
		t.Fatal(err)
	}
	expectSilence(t, queued, time.Second)
	expectSilence(t, u, 100*time.Millisecond)
	echotest.RoundTrip(t, echotest.DialTCP(t, keep.addr), "kept\n", "kept\n")

	mark = d.LogLines()
	echotest.SaveAtomic(t, d.Config, echotest.UnboundListener("keep", "tcp")+echotest.UnboundListener("gone", "tcp", "max_line = 8")+
		echotest.UnboundListener("gone-udp", "udp"))
	d.AwaitReload(t, mark)
	if got := d.Addr("gone"); got != gone.addr {
		t.Fatalf("gone is back on %s, want the same socket %s", got, gone.addr)
	}
	echotest.ReadExactly(t, queued, "queued\n")
	buf := make([]byte, 64)
	u.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := u.Read(buf); err != nil || string(buf[:n]) != "queued datagram" {
		t.Errorf("queued datagram: got %q, %v", buf[:n], err)
	}
	echotest.RoundTrip(t, echotest.DialTCP(t, gone.addr), "123456789\n", "ERR too-long-line\n") // the new limits
	if err := d.Stop(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// expectSilence checks that nothing arrives on c within d.
func expectSilence(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a removed listener answered: %q, %v", buf[:n], err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
}
