package systemd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// listenFDsStart is the first fd systemd passes (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// UnknownName is the name of a passed socket when LISTEN_FDNAMES gives none.
const UnknownName = "unknown"

// Errors Classify returns for sockets echogate cannot serve; test them with errors.Is.
var (
	ErrNotInet      = errors.New("not an AF_INET or AF_INET6 socket")
	ErrNotListening = errors.New("stream socket is not listening (Accept=yes is not supported, use Accept=no)")
	ErrUnsupported  = errors.New("socket is neither TCP nor UDP")
)

// Socket is one fd passed by systemd socket activation, checked with getsockopt.
type Socket struct {
	FD        int
	Name      string         // from LISTEN_FDNAMES ("unknown" when absent)
	Protocol  string         // "tcp" or "udp" (SO_TYPE + SO_PROTOCOL; MPTCP 262 counts as tcp)
	Addr      netip.AddrPort // getsockname
	Listening bool           // SO_ACCEPTCONN
	// Err says why echogate cannot serve this socket (a unix socket, Accept=yes, …); nil when it can.
	// Such a socket is an error only if a listener claims it by name.
	Err error `json:"-"`
}

// ListenFDs returns the sockets systemd passed to this process (fds 3..3+LISTEN_FDS-1), named from
// LISTEN_FDNAMES. It returns nil, nil when LISTEN_PID is not this process's pid. Every passed fd is made
// non-blocking and close-on-exec, and LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are unset, so children
// do not inherit them. Unix sockets, non-inet sockets and stream sockets that are not listening are
// returned with Err set, naming the fd and its name; the error return is for malformed variables.
func ListenFDs() ([]Socket, error) {
	pidText, nText, namesText := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	_, namesSet := os.LookupEnv("LISTEN_FDNAMES")
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
	if pidText == "" {
		return nil, nil
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil {
		return nil, fmt.Errorf("LISTEN_PID=%q: %w", pidText, err)
	}
	if pid != os.Getpid() || nText == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(nText)
	if err != nil || n < 0 || n > 1<<16 {
		return nil, fmt.Errorf("LISTEN_FDS=%q: not a count of fds", nText)
	}
	if n == 0 {
		return nil, nil
	}
	names, err := fdNames(namesText, namesSet, n)
	if err != nil {
		return nil, err
	}
	sockets := make([]Socket, 0, n)
	for i := range n {
		fd := listenFDsStart + i
		s, err := adopt(fd)
		s.FD, s.Name = fd, names[i]
		if err != nil {
			s.Err = fmt.Errorf("systemd socket fd %d named %q: %w", fd, names[i], err)
		}
		sockets = append(sockets, s)
	}
	return sockets, nil
}

// fdNames splits LISTEN_FDNAMES into n names; without the variable every name is "unknown".
func fdNames(text string, set bool, n int) ([]string, error) {
	names := make([]string, n)
	if !set {
		for i := range names {
			names[i] = UnknownName
		}
		return names, nil
	}
	parts := strings.Split(text, ":")
	if len(parts) != n {
		return nil, fmt.Errorf("LISTEN_FDNAMES=%q has %d names for LISTEN_FDS=%d", text, len(parts), n)
	}
	for i, p := range parts {
		if p == "" {
			p = UnknownName
		}
		names[i] = p
	}
	return names, nil
}

// adopt makes a passed fd close-on-exec and non-blocking, then classifies it.
func adopt(fd int) (Socket, error) {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return Socket{FD: fd}, os.NewSyscallError("fcntl F_SETFD", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return Socket{FD: fd}, os.NewSyscallError("fcntl O_NONBLOCK", err)
	}
	return Classify(fd)
}

// Classify describes fd with getsockopt and getsockname. It refuses (with ErrNotInet, ErrUnsupported or
// ErrNotListening) sockets echogate cannot serve: non-inet sockets, protocols other than TCP (or MPTCP)
// and UDP, and stream sockets that are not listening; the returned Socket then holds what was learnt.
func Classify(fd int) (Socket, error) {
	s := Socket{FD: fd, Name: UnknownName}
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return s, fmt.Errorf("fd %d: %w", fd, os.NewSyscallError("getsockopt SO_DOMAIN", err))
	}
	if domain != unix.AF_INET && domain != unix.AF_INET6 {
		return s, fmt.Errorf("fd %d: domain %s: %w", fd, domainName(domain), ErrNotInet)
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return s, fmt.Errorf("fd %d: %w", fd, os.NewSyscallError("getsockopt SO_TYPE", err))
	}
	proto, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil {
		return s, fmt.Errorf("fd %d: %w", fd, os.NewSyscallError("getsockopt SO_PROTOCOL", err))
	}
	switch {
	case typ == unix.SOCK_STREAM && (proto == unix.IPPROTO_TCP || proto == unix.IPPROTO_MPTCP):
		s.Protocol = "tcp"
	case typ == unix.SOCK_DGRAM && proto == unix.IPPROTO_UDP:
		s.Protocol = "udp"
	default:
		return s, fmt.Errorf("fd %d: type %d protocol %d: %w", fd, typ, proto, ErrUnsupported)
	}
	if s.Addr, err = sockName(fd); err != nil {
		return s, fmt.Errorf("fd %d: %w", fd, err)
	}
	if s.Protocol == "tcp" {
		acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		if err != nil {
			return s, fmt.Errorf("fd %d: %w", fd, os.NewSyscallError("getsockopt SO_ACCEPTCONN", err))
		}
		s.Listening = acc != 0
		if !s.Listening {
			return s, fmt.Errorf("fd %d (%s): %w", fd, s.Addr, ErrNotListening)
		}
	}
	return s, nil
}

// sockName returns the address fd is bound to.
func sockName(fd int) (netip.AddrPort, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, os.NewSyscallError("getsockname", err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), nil
	case *unix.SockaddrInet6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.ZoneId != 0 {
			a = a.WithZone(zoneName(sa.ZoneId))
		}
		return netip.AddrPortFrom(a, uint16(sa.Port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("getsockname: unexpected address %T", sa)
}

// zoneName turns an IPv6 scope id into an interface name, or its number when the interface is gone.
func zoneName(id uint32) string {
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(id), 10)
}

// domainName names the address families a misconfigured socket unit is likely to pass.
func domainName(d int) string {
	switch d {
	case unix.AF_UNIX:
		return "AF_UNIX"
	case unix.AF_NETLINK:
		return "AF_NETLINK"
	case unix.AF_PACKET:
		return "AF_PACKET"
	case unix.AF_VSOCK:
		return "AF_VSOCK"
	}
	return "AF " + strconv.Itoa(d)
}
