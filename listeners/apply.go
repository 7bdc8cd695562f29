package listeners

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"echogate/config"
	"echogate/internal/logmsg"
	"echogate/policy"
)

// Result summarises one Apply.
type Result struct {
	Added, Removed, Changed, Kept int
	Carried                       int                       // open connections on listeners that stayed
	LoopPause                     time.Duration             // how long the loop spent applying the plan
	Addrs                         map[string]netip.AddrPort // where each listener now serves
	Errors                        []error                   // listeners that could not be registered (their sockets are closed)
	Failed                        []string                  // their names: they are not serving
}

// errStopping refuses a plan that arrives during a graceful stop.
var errStopping = errors.New("echogate is shutting down; reload ignored")

// detached is a listening socket taken out of service by a plan, kept until the plan's actions are done: an
// action may take the socket (config.SocketListener) or the TCP listener's connections (Action.Conns).
type detached struct {
	fd        int
	addr      netip.AddrPort
	inherited bool
	taken     bool
	ln        *tcpListener // a TCP listener, whose connections drain unless an action carries them on
}

// Apply executes a reload plan: kept listeners get their new policy (existing connections see it at their
// next event), leaving listeners stop accepting, and every Add and Rebind is brought up on the socket its
// action names, carrying on the connections its action names; the connections nobody carries drain. It
// touches the loop's state without a lock, so it runs either before Run (the first config) or, once Run has
// started, on the loop goroutine (through Submit or Call); never from another goroutine while Run runs.
func (l *Loop) Apply(d config.Daemon, plan []config.Action, binds map[string]Binding) Result {
	start := time.Now()
	if l.stopping {
		return refuseWhileStopping(plan, binds)
	}
	res := Result{}
	l.setDaemon(d)
	leaving := l.takeDownLeaving(plan)
	for _, a := range plan {
		l.execute(a, binds[a.Name], leaving, &res)
	}
	l.release(leaving)
	l.listenersChanged()
	l.reportServing(&res)
	res.LoopPause = time.Since(start)
	return res
}

// refuseWhileStopping is the result of a plan given to a loop that is stopping: nothing is applied, the
// sockets prepared for it are closed, and every listener it would have brought up has failed.
func refuseWhileStopping(plan []config.Action, binds map[string]Binding) Result {
	res := Result{Addrs: map[string]netip.AddrPort{}, Errors: []error{errStopping}}
	for _, b := range binds {
		b.Close()
	}
	for _, a := range plan {
		if a.Kind == config.Add || a.Kind == config.Rebind {
			res.Failed = append(res.Failed, a.Name)
		}
	}
	return res
}

// takeDownLeaving takes every listener that a Remove or Rebind ends out of service, and returns them by name.
func (l *Loop) takeDownLeaving(plan []config.Action) map[string]*detached {
	leaving := map[string]*detached{}
	for _, a := range plan {
		if a.Kind == config.Remove || a.Kind == config.Rebind {
			if d := l.takeDown(a); d != nil {
				leaving[a.Old.Name] = d
			}
		}
	}
	return leaving
}

// execute carries out one action of a plan, with b the binding Prepare made for it, and counts it in res.
func (l *Loop) execute(a config.Action, b Binding, leaving map[string]*detached, res *Result) {
	switch a.Kind {
	case config.Keep:
		res.Kept++ // every value and the token are the same: its policy already says so
	case config.Update:
		res.Changed++
		if err := l.update(a, b.Policy); err != nil {
			res.Errors = append(res.Errors, err) // it serves with its new rules and its old backlog
		}
	case config.Add, config.Rebind:
		if err := l.bringUp(a, l.socketOf(a, b, leaving), l.carried(a, leaving)); err != nil {
			res.Errors = append(res.Errors, err)
			res.Failed = append(res.Failed, a.Name)
			return
		}
		if a.Kind == config.Add {
			res.Added++
		} else {
			res.Changed++
		}
	case config.Remove:
		res.Removed++
	}
}

// release closes the leaving sockets that no action took (an inherited one only leaves the epoll set), and
// drains the connections of leaving TCP listeners that no action carried on.
func (l *Loop) release(leaving map[string]*detached) {
	for _, d := range leaving {
		if !d.taken && !d.inherited {
			_ = unix.Close(d.fd) // a listening socket: nothing was written that a failed close could lose
			l.obs.closes.Add(1)
		}
		if d.ln != nil {
			l.drain(d.ln)
		}
	}
}

// reportServing fills res with the address of every listener now serving and the connections they hold.
func (l *Loop) reportServing(res *Result) {
	// Sized once: growing it was most of the loop time of a reload that keeps 10 000 listeners.
	res.Addrs = make(map[string]netip.AddrPort, len(l.tcp)+len(l.udp))
	for name, ln := range l.tcp {
		res.Addrs[name] = ln.addr
		res.Carried += len(ln.conns)
	}
	for name, u := range l.udp {
		res.Addrs[name] = u.addr
	}
}

// socketOf returns the socket an Add or Rebind serves on: the one Prepare made, or, when the plan hands it
// the socket of a leaving listener, that one (FD -1 if that listener was not serving).
func (l *Loop) socketOf(a config.Action, b Binding, leaving map[string]*detached) Binding {
	if a.Socket != config.SocketListener {
		return b
	}
	d := leaving[a.From]
	if d == nil || d.taken {
		return Binding{FD: -1}
	}
	d.taken = true
	return Binding{FD: d.fd, Addr: d.addr, Inherited: d.inherited, Policy: b.Policy}
}

// carried returns the leaving TCP listener whose connections the plan gives to a, or nil.
func (l *Loop) carried(a config.Action, leaving map[string]*detached) *tcpListener {
	d := leaving[a.Conns]
	if a.Conns == "" || d == nil || a.New.Protocol != config.TCP {
		return nil
	}
	ln := d.ln
	d.ln = nil
	return ln
}

// takeDown removes the old side of a Remove or Rebind from service and returns its socket, with its TCP
// listener, whose connections stay open until Apply has brought up the listener that carries them on.
func (l *Loop) takeDown(a config.Action) *detached {
	name := a.Old.Name
	l.warnInherited(name)
	if ln, ok := l.tcp[name]; ok {
		ln.detach(l)
		d := &detached{fd: ln.fd, addr: ln.addr, inherited: ln.inherited, ln: ln}
		ln.fd = -1
		delete(l.tcp, name)
		return d
	}
	if u, ok := l.udp[name]; ok {
		u.detach(l)
		d := &detached{fd: u.fd, addr: u.addr, inherited: u.inherited}
		u.fd = -1
		delete(l.udp, name)
		return d
	}
	return nil
}

// bringUp registers the new side of an Add or Rebind on the socket b. A TCP listener takes over ln, the
// listener whose connections it carries on, when there is one; they drain if it cannot start.
func (l *Loop) bringUp(a config.Action, b Binding, ln *tcpListener) error {
	lc := a.New
	if b.FD < 0 {
		if ln != nil {
			l.drain(ln)
		}
		if a.Socket == config.SocketListener {
			return fmt.Errorf("listener %q: no socket to serve on: listener %q, whose socket it was to take, was not serving",
				lc.Name, a.From)
		}
		return fmt.Errorf("listener %q: no socket to serve on", lc.Name)
	}
	pol := orNew(b.Policy, lc)
	if lc.Protocol == config.UDP {
		u := l.newUDPEndpoint(lc, b, pol)
		if err := l.register(b.FD, unix.EPOLLIN, u); err != nil {
			b.Close()
			return fmt.Errorf("listener %q: %w", lc.Name, err)
		}
		l.udp[lc.Name] = u
		return nil
	}
	if ln == nil {
		ln = &tcpListener{name: lc.Name, stats: l.stats.counters(lc.Name), perIP: map[netip.Addr]int32{}}
	}
	ln.fd, ln.inherited, ln.addr, ln.pol, ln.paused = b.FD, b.Inherited, b.Addr, pol, false
	ln.closes = &l.obs.closes
	if b.Inherited {
		_ = saveSYN(b.FD) // for /whoami's syn_ fields; a socket that refuses it serves without them
	}
	ln.name, ln.stats, ln.removed = lc.Name, l.stats.counters(lc.Name), false
	if err := l.register(b.FD, unix.EPOLLIN, ln); err != nil {
		b.Close()
		l.drain(ln)
		return fmt.Errorf("listener %q: %w", lc.Name, err)
	}
	l.tcp[lc.Name] = ln
	return nil
}

// update gives a listener that keeps its socket its new rules (pol, from Prepare, or built here when nil).
// A changed backlog is applied to the live socket by listen(2), and only then: it is a system call on the
// loop per listener. It cannot be tried before the commit (the socket is the loop's), so if listen(2)
// fails the listener serves with its new rules and its old backlog, and the error makes the reload partial.
func (l *Loop) update(a config.Action, pol *policy.Policy) error {
	lc := a.New
	pol = orNew(pol, lc)
	if ln, ok := l.tcp[lc.Name]; ok {
		ln.pol = pol
		if !ln.inherited && slices.Contains(a.Changed, "backlog") {
			if err := unix.Listen(ln.fd, max(lc.Backlog, 1)); err != nil {
				return fmt.Errorf("listener %q: backlog %d: %w", lc.Name, lc.Backlog, os.NewSyscallError("listen", err))
			}
		}
		return nil
	}
	if u, ok := l.udp[lc.Name]; ok {
		u.pol = pol
		u.useProtocol(l)
	}
	return nil
}

// orNew returns pol, or the policy of lc when pol is nil (a Binding not made by Prepare).
func orNew(pol *policy.Policy, lc *config.Listener) *policy.Policy {
	if pol != nil {
		return pol
	}
	return policy.New(lc)
}

// drain marks a listener as gone: it accepts nothing more, and its connections are served until they close or
// drain_timeout passes.
func (l *Loop) drain(ln *tcpListener) {
	ln.removed = true
	if len(ln.conns) == 0 {
		return
	}
	l.draining[ln] = struct{}{}
	l.schedule(l.opts.DrainTimeout, func() {
		if len(ln.conns) == 0 {
			return
		}
		l.log.Warn(logmsg.ConnsClosed, "event", "drain_timeout reached, closing connections of removed listener", "listener", ln.name,
			"connections", len(ln.conns))
		for len(ln.conns) > 0 {
			c := ln.conns[len(ln.conns)-1]
			ln.stats.DrainClosed++
			c.close(l, "drain timeout")
		}
	})
}

// connClosed is told of every closed connection, to finish drains and shutdowns.
func (l *Loop) connClosed(ln *tcpListener) {
	if ln.removed && len(ln.conns) == 0 {
		delete(l.draining, ln)
	}
	if l.stopping && l.stats.TCPNow == 0 {
		l.finishShutdown()
	}
}

// setDaemon takes the [daemon] settings the loop uses.
func (l *Loop) setDaemon(d config.Daemon) {
	l.opts.StatsInterval = d.StatsInterval
	l.opts.UDPPeerWindow = d.UDPPeerWindow
	l.opts.DrainTimeout = d.DrainTimeout
	l.opts.ShutdownGrace = d.ShutdownGrace
	l.setRefusalsEvery(d.LogRefusalsEvery)
	l.applyConfigState(d.State)
	l.hs.resize(d.TLSHandshakeWorkers)
}

// warnInherited explains, when a listener whose socket systemd passed leaves service, that the port stays
// bound: systemd holds its own copy, and echogate keeps its fd open so a later reload can adopt it again.
func (l *Loop) warnInherited(name string) {
	inherited := false
	if ln, ok := l.tcp[name]; ok {
		inherited = ln.inherited
	} else if u, ok := l.udp[name]; ok {
		inherited = u.inherited
	}
	if inherited {
		l.log.Warn(logmsg.SocketKept, "event", "listener's socket came from systemd: it leaves the epoll set but stays open and bound "+
			"(clients may still connect and wait); stop or remove its .socket unit to free the port",
			"listener", name)
	}
}
