package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
	"echogate/internal/logmsg"
)

// The control socket's bounds: a client sends one short line within controlReadTimeout and gets one answer;
// at most controlMaxClients are served at once, and the next one is told "busy".
const (
	controlMaxLine      = 256
	controlReadTimeout  = 5 * time.Second
	controlWriteTimeout = 5 * time.Second
	controlMaxClients   = 4
	controlSocketName   = "control.sock"
)

// controlPath is where the daemon's control socket lives: [daemon] control_socket, else
// $RUNTIME_DIRECTORY/control.sock when systemd set RuntimeDirectory=, else "" (no control socket).
func controlPath(d config.Daemon) string {
	return defaultControlPath(d.ControlSocket, os.Getenv("RUNTIME_DIRECTORY"))
}

// defaultControlPath applies the default to a control_socket value. runtimeDir may hold several
// colon-separated paths (one per RuntimeDirectory= entry): the first is used.
func defaultControlPath(key, runtimeDir string) string {
	if key != "" {
		return key
	}
	first, _, _ := strings.Cut(runtimeDir, ":")
	if first == "" {
		return ""
	}
	return filepath.Join(first, controlSocketName)
}

// controlHandlers are what the control socket's commands do.
type controlHandlers struct {
	reload func() <-chan reloadResult // starts a reload; its result arrives on the channel
	status func() ([]byte, error)     // the status as one JSON object
	state  func(arg string) string    // "state [ready|drain|maint]": the answer line
}

// controlServer serves the control socket from its own goroutines, never from the event loop: one accepts,
// and one per client (at most controlMaxClients) reads its line and answers.
type controlServer struct {
	log   *slog.Logger
	slots chan struct{}
	done  chan struct{} // closed at exit: clients still waiting for a reload are answered

	mu      sync.Mutex
	ln      *net.UnixListener
	path    string
	handler *controlHandlers // set by serve; nil until then, when nothing is accepted
}

func newControlServer(log *slog.Logger) *controlServer {
	return &controlServer{log: log, slots: make(chan struct{}, controlMaxClients), done: make(chan struct{})}
}

// serve starts answering on the current socket, and on every socket a later reload moves it to.
func (s *controlServer) serve(h controlHandlers) {
	s.mu.Lock()
	s.handler = &h
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		go s.acceptLoop(ln, &h)
	}
}

// currentPath is where the control socket is now ("" when there is none).
func (s *controlServer) currentPath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path
}

// close removes the socket; clients still waiting for a reload are told that echogate is stopping.
func (s *controlServer) close() {
	s.mu.Lock()
	ln := s.ln
	s.ln, s.path = nil, ""
	s.mu.Unlock()
	close(s.done)
	if ln != nil {
		_ = ln.Close() // a listener made by ListenUnix removes its file on Close
	}
}

// controlMove is a change of control socket prepared by a reload: the new socket is already bound and the
// old one still serves until commit. abort undoes it when the reload is rejected.
type controlMove struct {
	s    *controlServer
	ln   *net.UnixListener
	path string
	noop bool
}

// prepare binds the control socket at path, unless it is already there; "" turns it off at commit.
func (s *controlServer) prepare(path string) (controlMove, error) {
	if s == nil || path == s.currentPath() {
		return controlMove{noop: true}, nil
	}
	if path == "" {
		return controlMove{s: s}, nil
	}
	ln, err := listenControl(path, s.log)
	if err != nil {
		return controlMove{}, fmt.Errorf("control_socket %s: %w", path, err)
	}
	return controlMove{s: s, ln: ln, path: path}, nil
}

func (m controlMove) commit() {
	if m.noop {
		return
	}
	s := m.s
	s.mu.Lock()
	old, oldPath := s.ln, s.path
	s.ln, s.path = m.ln, m.path
	h := s.handler
	s.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	if m.ln != nil && h != nil {
		go s.acceptLoop(m.ln, h)
	}
	switch {
	case m.path == "":
		s.log.Info(logmsg.ControlSocket, "event", "closed", "was", oldPath)
	case oldPath == "":
		s.log.Info(logmsg.ControlSocket, "event", "listening", "path", m.path)
	default:
		s.log.Info(logmsg.ControlSocket, "event", "moved", "from", oldPath, "to", m.path)
	}
}

func (m controlMove) abort() {
	if m.ln != nil {
		_ = m.ln.Close()
	}
}

// listenControl binds a unix stream socket at path with mode 0600. A socket file left by a crashed daemon is
// removed first, but only when it is a socket and nothing answers on it.
func listenControl(path string, log *slog.Logger) (*net.UnixListener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, errors.New("the path exists and is not a socket; not replacing it")
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			_ = c.Close()
			return nil, errors.New("another process answers on it (is echogate already running?)")
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("probe the existing socket: %w", err)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove the stale socket: %w", err)
		}
		log.Warn(logmsg.ControlSocket, "event", "removed a stale control socket (left by a daemon that did not exit cleanly)", "path", path)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// Between bind and chmod the file has the umask's mode; SO_PEERCRED still refuses other users then.
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}

// acceptLoop accepts clients until ln is closed.
func (s *controlServer) acceptLoop(ln *net.UnixListener, h *controlHandlers) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn(logmsg.ControlSocket, "event", "accept failed; not serving it any more", "err", err)
			}
			return
		}
		select {
		case s.slots <- struct{}{}:
			go func() {
				defer func() { <-s.slots }()
				s.serveConn(c, h)
			}()
		default:
			answer(c, "busy too many control clients; try again")
			_ = c.Close()
		}
	}
}

// serveConn checks who the client is, reads its one line and answers it.
func (s *controlServer) serveConn(c *net.UnixConn, h *controlHandlers) {
	defer c.Close()
	cred, err := peerCred(c)
	if err != nil {
		s.log.Warn(logmsg.ControlSocket, "event", "cannot read the client's credentials", "err", err)
		answer(c, "denied cannot read the client's credentials")
		return
	}
	if euid := uint32(os.Geteuid()); cred.Uid != 0 && cred.Uid != euid {
		s.log.Warn(logmsg.ControlSocket, "event", "client refused", "uid", cred.Uid, "pid", cred.Pid, "daemon_uid", euid)
		answer(c, fmt.Sprintf("denied uid %d may not use this control socket (only root and uid %d)", cred.Uid, euid))
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(controlReadTimeout))
	cmd, err := readCommand(c)
	if err != nil {
		answer(c, "error "+err.Error())
		return
	}
	switch cmd {
	case "reload":
		s.log.Info(logmsg.ControlSocket, "event", "reload requested", "uid", cred.Uid, "pid", cred.Pid)
		select {
		case res := <-h.reload():
			answer(c, res.reply())
		case <-s.done:
			answer(c, refused(errStopping).reply())
		}
	case "status":
		b, err := h.status()
		if err != nil {
			answer(c, "error "+oneLine(err.Error()))
			return
		}
		answer(c, string(b))
	case "state", "state ready", "state drain", "state maint":
		if cmd != "state" {
			s.log.Info(logmsg.ControlSocket, "event", "state requested", "state", strings.TrimPrefix(cmd, "state "), "uid", cred.Uid, "pid", cred.Pid)
		}
		answer(c, h.state(strings.TrimSpace(strings.TrimPrefix(cmd, "state"))))
	default:
		answer(c, fmt.Sprintf("error unknown command %q; commands: reload, status, state [ready|drain|maint]", cmd))
	}
}

// readCommand reads the client's line: at most controlMaxLine bytes up to '\n' (or to the end of its input).
func readCommand(c net.Conn) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(c, controlMaxLine+1)).ReadString('\n')
	switch {
	case err == nil:
	case len(line) > controlMaxLine:
		return "", fmt.Errorf("command line longer than %d bytes", controlMaxLine)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "", fmt.Errorf("no command within %s", controlReadTimeout)
	case !errors.Is(err, io.EOF) || line == "":
		return "", fmt.Errorf("read command: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// answer writes the one-line reply, bounded by controlWriteTimeout.
func answer(c net.Conn, line string) {
	_ = c.SetWriteDeadline(time.Now().Add(controlWriteTimeout))
	_, _ = io.WriteString(c, line+"\n")
}

// peerCred returns the client's uid and pid, as the kernel recorded them at connect (SO_PEERCRED).
func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if credErr != nil {
		return nil, os.NewSyscallError("getsockopt SO_PEERCRED", credErr)
	}
	return cred, nil
}
