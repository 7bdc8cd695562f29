package systemd

import (
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a socket-activated daemon (see runHelper).
const helperEnv = "ECHOGATE_SYSTEMD_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "listenfds" {
		os.Exit(runHelper())
	}
	os.Exit(m.Run())
}

// helperReport is what the child process prints about its passed sockets.
type helperReport struct {
	Sockets  []Socket
	Err      string
	Env      []string // LISTEN_* variables still set after ListenFDs
	CloExec  []bool
	NonBlock []bool
}

// runHelper calls ListenFDs in the child and prints a helperReport as JSON.
func runHelper() int {
	var r helperReport
	sockets, err := ListenFDs()
	if err != nil {
		r.Err = err.Error()
	}
	r.Sockets = sockets
	for _, s := range sockets {
		if s.Err != nil {
			r.Err += s.Err.Error() + "\n"
		}
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if _, ok := os.LookupEnv(k); ok {
			r.Env = append(r.Env, k)
		}
	}
	for _, s := range sockets {
		fdFlags, _ := unix.FcntlInt(uintptr(s.FD), unix.F_GETFD, 0)
		flFlags, _ := unix.FcntlInt(uintptr(s.FD), unix.F_GETFL, 0)
		r.CloExec = append(r.CloExec, fdFlags&unix.FD_CLOEXEC != 0)
		r.NonBlock = append(r.NonBlock, flFlags&unix.O_NONBLOCK != 0)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	return 0
}

// fileOf returns a blocking duplicate of a listener's or socket's fd, closed with the test.
func fileOf(t *testing.T, c interface{ File() (*os.File, error) }) *os.File {
	t.Helper()
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// rawSocket makes a socket with unix.Socket, binds it to addr and, for streams, listens.
func rawSocket(t *testing.T, domain, typ, proto int, sa unix.Sockaddr) int {
	t.Helper()
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EINVAL) {
			t.Skipf("socket(%d, %d, %d): %v", domain, typ, proto, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, sa); err != nil {
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			t.Skipf("bind: %v", err)
		}
		t.Fatal(err)
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, 8); err != nil {
			t.Fatal(err)
		}
	}
	return fd
}

var loop4 = &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name      string
		open      func(t *testing.T) int
		proto     string
		listening bool
		loopback6 bool
		err       error
	}{
		{name: "net.Listen tcp", proto: "tcp", listening: true, open: func(t *testing.T) int {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			return int(fileOf(t, ln.(*net.TCPListener)).Fd())
		}},
		{name: "raw tcp", proto: "tcp", listening: true, open: func(t *testing.T) int {
			return rawSocket(t, unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_TCP, loop4)
		}},
		{name: "raw mptcp", proto: "tcp", listening: true, open: func(t *testing.T) int {
			return rawSocket(t, unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP, loop4)
		}},
		{name: "raw tcp6", proto: "tcp", listening: true, loopback6: true, open: func(t *testing.T) int {
			return rawSocket(t, unix.AF_INET6, unix.SOCK_STREAM, unix.IPPROTO_TCP,
				&unix.SockaddrInet6{Addr: netip.IPv6Loopback().As16()})
		}},
		{name: "udp", proto: "udp", open: func(t *testing.T) int {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { pc.Close() })
			return int(fileOf(t, pc.(*net.UDPConn)).Fd())
		}},
		{name: "unix stream refused", err: ErrNotInet, open: func(t *testing.T) int {
			ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			return int(fileOf(t, ln.(*net.UnixListener)).Fd())
		}},
		{name: "connected stream refused", proto: "tcp", err: ErrNotListening, open: func(t *testing.T) int {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return int(fileOf(t, c.(*net.TCPConn)).Fd())
		}},
		{name: "raw udplite refused", err: ErrUnsupported, open: func(t *testing.T) int {
			return rawSocket(t, unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_UDPLITE, loop4)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fd := tc.open(t)
			s, err := Classify(fd)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Classify = %+v, %v; want error %v", s, err, tc.err)
				}
				if !strings.Contains(err.Error(), "fd ") {
					t.Errorf("error %q does not name the fd", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := sockNameOrFatal(t, fd)
			if s.FD != fd || s.Protocol != tc.proto || s.Listening != tc.listening || s.Addr != want {
				t.Errorf("Classify = %+v; want fd %d %s listening=%v at %s", s, fd, tc.proto, tc.listening, want)
			}
			if !s.Addr.Addr().IsLoopback() || s.Addr.Port() == 0 || s.Addr.Addr().Is6() != tc.loopback6 {
				t.Errorf("address %s: want a bound loopback address (IPv6 %v)", s.Addr, tc.loopback6)
			}
		})
	}
}

// sockNameOrFatal returns fd's bound address as the standard library sees it.
func sockNameOrFatal(t *testing.T, fd int) netip.AddrPort {
	t.Helper()
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *syscall.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	t.Fatalf("unexpected sockaddr %T", sa)
	return netip.AddrPort{}
}

func TestClassifyNotSocket(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Classify(int(f.Fd())); !errors.Is(err, unix.ENOTSOCK) {
		t.Fatalf("Classify(regular file) error = %v; want ENOTSOCK", err)
	}
}
