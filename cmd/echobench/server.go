package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is one echo server process the harness started and accounts for.
type server struct {
	name   string
	cmd    *exec.Cmd
	pid    int
	log    *lineLog
	exited chan struct{}
}

// startTimeout bounds how long a server may take to accept its first connection.
const startTimeout = 5 * time.Second

// startServer runs argv pinned to cpu and waits until it accepts a TCP connection on 127.0.0.1:readyPort.
func startServer(ctx context.Context, name, cpu string, argv []string, readyPort int) (*server, error) {
	full := pinned(cpu, argv)
	s := &server{name: name, log: &lineLog{}, exited: make(chan struct{})}
	s.cmd = exec.Command(full[0], full[1:]...)
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, argv[0], err)
	}
	s.pid = s.cmd.Process.Pid
	go func() { s.cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx, readyPort); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s: %w; command: %s; stderr: %s", name, err, strings.Join(argv, " "), s.log.tail(5))
	}
	return s, nil
}

// waitReady dials 127.0.0.1:port until it answers, the process exits or startTimeout passes.
func (s *server) waitReady(ctx context.Context, port int) error {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("exited at start (%v)", s.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no answer on %s within %v", addr, startTimeout)
}

// alive tells whether the process is still running.
func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, waits up to 3 s, then kills the process. Only this PID is signalled.
func (s *server) stop() {
	if !s.alive() {
		return
	}
	terminate(s.cmd.Process, s.exited, 3*time.Second)
}

// terminate sends p SIGTERM and waits for done (closed once p is reaped), killing p after grace.
func terminate(p *os.Process, done <-chan struct{}, grace time.Duration) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = p.Kill()
		<-done
	}
}

// pinned prefixes argv with "taskset -c cpu" when taskset exists and the machine has two CPUs or more.
func pinned(cpu string, argv []string) []string {
	if tasksetPath == "" {
		return argv
	}
	return append([]string{tasksetPath, "-c", cpu}, argv...)
}

// tasksetPath is set by main when pinning is possible.
var tasksetPath string

// lineLog keeps the last maxLines lines written to it (a process's stderr).
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	total   int // lines ever written
}

const maxLines = 2000

// Write splits p into lines and keeps them.
func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		l.total++
	}
	if len(l.lines) > maxLines {
		l.lines = append([]string(nil), l.lines[len(l.lines)-maxLines/2:]...)
	}
	return len(p), nil
}

// since returns the lines written after the first n ever written (as far as they are kept) and the new total.
func (l *lineLog) since(n int) ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.total - len(l.lines) // number of the oldest kept line
	skip := max(0, n-first)
	if skip > len(l.lines) {
		skip = len(l.lines)
	}
	return append([]string(nil), l.lines[skip:]...), l.total
}

// tail returns the last n lines joined by " | ".
func (l *lineLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	from := max(0, len(l.lines)-n)
	out := strings.Join(l.lines[from:], " | ")
	if len(l.partial) > 0 {
		out += " | " + string(l.partial)
	}
	return out
}
