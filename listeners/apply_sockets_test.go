package listeners

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
)

// sock is a listener of a socket-hand-over test: its name, protocol and which of the test's ports it uses.
type sock struct {
	name  string
	proto config.Protocol
	port  int
}

// TestApplySockets reloads a loop on real 127.0.0.1 sockets, with a client connection held open on every
// old TCP listener, and checks that each new listener serves on the socket its plan names (the same inode),
// that every held connection is still served by the listener the plan gives it (or drains), and that each
// port is served by the right name afterwards.
func TestApplySockets(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new []sock
		// sameSocket maps a new listener to the old one whose socket it serves on; a new listener not
		// named here serves on a socket of its own.
		sameSocket map[string]string
		// carried maps an old TCP listener to the new one serving its held connection; "" means it drains.
		carried map[string]string
	}{
		{
			name:       "rename",
			old:        []sock{{"diag", config.TCP, 0}, {"udp", config.UDP, 0}},
			new:        []sock{{"diag2", config.TCP, 0}, {"udp", config.UDP, 0}},
			sameSocket: map[string]string{"diag2": "diag", "udp": "udp"},
			carried:    map[string]string{"diag": "diag2"},
		},
		{
			name:       "rename udp",
			old:        []sock{{"diag", config.TCP, 0}, {"udp", config.UDP, 0}},
			new:        []sock{{"diag", config.TCP, 0}, {"udp-echo", config.UDP, 0}},
			sameSocket: map[string]string{"diag": "diag", "udp-echo": "udp"},
			carried:    map[string]string{"diag": "diag"},
		},
		{
			name:       "swap ports",
			old:        []sock{{"a", config.TCP, 0}, {"b", config.TCP, 1}, {"c", config.UDP, 0}, {"d", config.UDP, 1}},
			new:        []sock{{"a", config.TCP, 1}, {"b", config.TCP, 0}, {"c", config.UDP, 1}, {"d", config.UDP, 0}},
			sameSocket: map[string]string{"a": "b", "b": "a", "c": "d", "d": "c"},
			carried:    map[string]string{"a": "a", "b": "b"},
		},
		{
			name:       "move to the address a removed listener leaves",
			old:        []sock{{"old", config.TCP, 0}, {"diag", config.TCP, 1}},
			new:        []sock{{"diag", config.TCP, 0}},
			sameSocket: map[string]string{"diag": "old"},
			carried:    map[string]string{"diag": "diag", "old": ""},
		},
		{
			name:       "rotate with a rename",
			old:        []sock{{"a", config.TCP, 0}, {"b", config.TCP, 1}},
			new:        []sock{{"a", config.TCP, 1}, {"b2", config.TCP, 0}},
			sameSocket: map[string]string{"a": "b", "b2": "a"},
			carried:    map[string]string{"a": "a", "b": ""},
		},
		{
			name:       "protocol change, and a new name takes the TCP socket",
			old:        []sock{{"diag", config.TCP, 0}},
			new:        []sock{{"diag", config.UDP, 0}, {"diag2", config.TCP, 0}},
			sameSocket: map[string]string{"diag2": "diag"},
			carried:    map[string]string{"diag": ""},
		},
		{
			name:    "address change binds a new socket",
			old:     []sock{{"diag", config.TCP, 0}},
			new:     []sock{{"diag", config.TCP, 2}},
			carried: map[string]string{"diag": "diag"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ports := freePorts(t, 3)
			old, next := sockListeners(tc.old, ports), sockListeners(tc.new, ports)
			l, _ := startLoop(t, old...)
			held := map[string]*bufio.ReadWriter{}
			for _, lc := range old {
				if lc.Protocol == config.TCP {
					held[lc.Name] = holdConn(t, lc.Address)
				}
			}
			before := socketInodes(t, l)
			res := applyPlan(t, l, config.Plan(&config.Config{Listeners: old}, &config.Config{Listeners: next}), nil)
			after := socketInodes(t, l)
			for _, lc := range next {
				want, same := tc.sameSocket[lc.Name]
				switch {
				case same && after[lc.Name] != before[want]:
					t.Errorf("%s serves on inode %d, want %d, the socket of %s", lc.Name, after[lc.Name], before[want], want)
				case !same && slicesContainValue(before, after[lc.Name]):
					t.Errorf("%s serves on inode %d, an old socket; want a new one", lc.Name, after[lc.Name])
				}
			}
			for name, rw := range held {
				checkCarried(t, l, rw, name, tc.carried[name])
			}
			for _, lc := range next {
				checkServedBy(t, l, lc)
			}
			if res.Failed != nil {
				t.Errorf("failed listeners %v", res.Failed)
			}
		})
	}
}

// TestApplySystemdSocketReadopted removes a listener whose socket systemd passed and adds it back: the socket
// is never closed, and the second reload serves on it again.
func TestApplySystemdSocketReadopted(t *testing.T) {
	ports := freePorts(t, 2)
	ls := sockListeners([]sock{{"web", config.TCP, 0}, {"other", config.TCP, 1}}, ports)
	web, other := ls[0], ls[1]
	passed, err := Bind(&web)
	if err != nil {
		t.Fatal(err)
	}
	passed.Inherited = true
	t.Cleanup(func() { unix.Close(passed.FD) })
	activated := func(lc *config.Listener) (Binding, bool, error) { return passed, lc.Name == "web", nil }
	systemd := map[string]bool{"web": true}
	l, _ := startLoop(t, other)
	both := &config.Config{Listeners: []config.Listener{web, other}}
	alone := &config.Config{Listeners: []config.Listener{other}}
	applyPlan(t, l, config.PlanActivated(alone, both, systemd), activated)
	rw := holdConn(t, web.Address)
	applyPlan(t, l, config.PlanActivated(both, alone, systemd), activated)
	checkCarried(t, l, rw, "web", "") // it drains
	var st unix.Stat_t
	if err := unix.Fstat(passed.FD, &st); err != nil {
		t.Fatalf("the socket systemd passed was closed by the reload that removed its listener: %v", err)
	}
	applyPlan(t, l, config.PlanActivated(alone, both, systemd), activated)
	if got := socketInodes(t, l)["web"]; got != st.Ino {
		t.Fatalf("web serves on inode %d, want %d, the socket systemd passed", got, st.Ino)
	}
	checkServedBy(t, l, web)
}

// TestApplyBacklogError makes listen(2) fail for a changed backlog: the reload reports the error (it is
// partial), and the listener keeps serving with its new rules.
func TestApplyBacklogError(t *testing.T) {
	lc := testListener("diag", config.TCP)
	l, addrs := startLoop(t, lc)
	notStream, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(notStream)
	var fd int
	l.Call(func() { fd, l.tcp["diag"].fd = l.tcp["diag"].fd, notStream }) // listen(2) on it fails
	changed := lc
	changed.Backlog, changed.MaxLine = 7, 3
	var res Result
	plan := config.Plan(&config.Config{Listeners: []config.Listener{lc}}, &config.Config{Listeners: []config.Listener{changed}})
	l.Call(func() {
		res = l.Apply(testDaemon(), plan, nil)
		l.tcp["diag"].fd = fd
	})
	if len(res.Errors) != 1 || res.Changed != 1 || res.Failed != nil {
		t.Fatalf("result %+v, want one changed listener and one error", res)
	}
	t.Logf("error: %v", res.Errors[0])
	c := dialLoop(t, addrs["diag"], 5*time.Second)
	io.WriteString(c, "abcd\n")
	if got, err := bufio.NewReader(c).ReadString('\n'); got != "ERR too-long-line\n" {
		t.Fatalf("got %q (%v), want the new max_line applied", got, err)
	}
}

// sockListeners builds the listeners of specs on 127.0.0.1 and the given ports.
func sockListeners(specs []sock, ports []int) []config.Listener {
	var ls []config.Listener
	for _, s := range specs {
		lc := testListener(s.name, s.proto)
		lc.Address = "127.0.0.1:" + strconv.Itoa(ports[s.port])
		ls = append(ls, lc)
	}
	return ls
}

// freePorts returns n ports free for TCP and UDP on 127.0.0.1 a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for len(ports) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		ln.Close()
		if err == nil {
			pc.Close()
			ports = append(ports, port)
		}
	}
	return ports
}

// applyPlan prepares plan as the daemon does and applies it on the running loop, with a drain_timeout long
// enough that draining connections are still served while the test checks them.
func applyPlan(t *testing.T, l *Loop, plan []config.Action, activated Activated) Result {
	t.Helper()
	binds, err := Prepare(plan, activated)
	if err != nil {
		t.Fatal(err)
	}
	d := testDaemon()
	d.DrainTimeout = time.Minute
	var res Result
	l.Call(func() { res = l.Apply(d, plan, binds) })
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	return res
}

// holdConn connects to addr and checks one echo; the connection stays open until the test ends.
func holdConn(t *testing.T, addr string) *bufio.ReadWriter {
	t.Helper()
	c := dialLoop(t, addr, 10*time.Second)
	rw := bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
	echoOn(t, rw, "before")
	return rw
}

func echoOn(t *testing.T, rw *bufio.ReadWriter, line string) {
	t.Helper()
	rw.WriteString(line + "\n")
	rw.Flush()
	if got, err := rw.ReadString('\n'); got != line+"\n" {
		t.Fatalf("got %q (%v), want %q", got, err, line+"\n")
	}
}

// socketInodes returns the inode of every serving listener's socket, by name.
func socketInodes(t *testing.T, l *Loop) map[string]uint64 {
	t.Helper()
	inodes := map[string]uint64{}
	ino := func(name string, fd int) {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Errorf("%s: fstat %d: %v", name, fd, err)
		}
		inodes[name] = st.Ino
	}
	l.Call(func() {
		for name, ln := range l.tcp {
			ino(name, ln.fd)
		}
		for name, u := range l.udp {
			ino(name, u.fd)
		}
	})
	return inodes
}

func slicesContainValue(m map[string]uint64, v uint64) bool {
	for _, x := range m {
		if x == v {
			return true
		}
	}
	return false
}

// checkCarried checks that the connection held on the old listener name is still echoed, and is one of the
// connections of the serving listener want, or of a draining listener called name when want is "".
func checkCarried(t *testing.T, l *Loop, rw *bufio.ReadWriter, name, want string) {
	t.Helper()
	echoOn(t, rw, "after")
	serving, draining := 0, 0
	l.Call(func() {
		if ln, ok := l.tcp[want]; ok {
			serving = len(ln.conns)
		}
		for ln := range l.draining {
			if ln.name == name {
				draining += len(ln.conns)
			}
		}
	})
	switch {
	case want != "" && serving != 1:
		t.Errorf("the connection held on %s: %s serves %d connections, want 1", name, want, serving)
	case want == "" && draining != 1:
		t.Errorf("the connection held on %s: %d draining, want 1", name, draining)
	}
}

// checkServedBy sends one line or datagram to lc's address and checks that lc's counters saw it.
func checkServedBy(t *testing.T, l *Loop, lc config.Listener) {
	t.Helper()
	count := func() (n uint64) {
		l.Call(func() {
			c := l.stats.counters(lc.Name)
			n = c.Accepted + c.Datagrams
		})
		return n
	}
	was := count()
	if lc.Protocol == config.TCP {
		echoOn(t, holdConn(t, lc.Address), "who")
	} else {
		c, err := net.Dial("udp", lc.Address)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 16)
		if _, err := c.Write([]byte("who")); err != nil {
			t.Fatal(err)
		}
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != "who" {
			t.Fatalf("%s: udp echo %q (%v)", lc.Name, buf[:n], err)
		}
	}
	if got := count(); got <= was {
		t.Errorf("%s's counters did not see what was sent to %s", lc.Name, lc.Address)
	}
}
