package main

import (
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"echogate/config"
	"echogate/internal/httpapi"
	"echogate/internal/logmsg"
	"echogate/internal/metrics"
	"echogate/listeners"
)

// httpSocketName is the name (FileDescriptorName=) of a socket systemd passes for the HTTP endpoint.
const httpSocketName = "http"

// httpEndpoint is the daemon's HTTP endpoint: [daemon] http, or the socket systemd passed as "http", which
// then wins over the key. A reload applies http_allow at once, and moves the endpoint when http changes.
type httpEndpoint struct {
	srv       *httpapi.Server
	addr      string // [daemon] http being served
	activated bool   // serving systemd's socket: the key does not move it
}

// startHTTP starts the endpoint if the config or systemd asks for one.
func startHTTP(d *daemon, loop *listeners.Loop, act *activation) (*httpEndpoint, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		metrics.New(func() (metrics.Scrape, bool) { return d.scrape(loop) }))
	e := &httpEndpoint{srv: httpapi.New(d.log, httpBackend{loop: loop, r: d.reloader}, reg)}
	e.srv.SetAllow(d.cfg.Daemon.HTTPAllow)
	if s, ok := act.byName[httpSocketName]; ok && s.Protocol == "tcp" {
		ln, err := net.FileListener(os.NewFile(uintptr(s.FD), httpSocketName))
		if err != nil {
			return nil, fmt.Errorf("http: systemd socket %q: %w", httpSocketName, err)
		}
		d.log.Info(logmsg.Adopted, "endpoint", "http", "fd", s.FD, "addr", s.Addr)
		e.activated = true
		e.srv.Serve(ln)
		return e, nil
	}
	if err := e.move(d.cfg.Daemon.HTTP); err != nil {
		return nil, err
	}
	return e, nil
}

// apply takes the [daemon] http keys of a config a reload applied.
func (e *httpEndpoint) apply(d config.Daemon) error {
	e.srv.SetAllow(d.HTTPAllow)
	if e.activated || d.HTTP == e.addr {
		return nil
	}
	return e.move(d.HTTP)
}

// move serves addr instead of the address served now; "" turns the endpoint off.
func (e *httpEndpoint) move(addr string) error {
	if addr == "" {
		e.srv.Close()
		e.addr = ""
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("[daemon] http %s: %w", addr, err)
	}
	e.srv.Serve(ln)
	e.addr = addr
	return nil
}

func (e *httpEndpoint) close() { e.srv.Close() }

// httpBackend answers the endpoint from the loop and the reloader.
type httpBackend struct {
	loop *listeners.Loop
	r    *reloader
}

func (b httpBackend) Alive(timeout time.Duration) bool { return b.loop.CallWithin(timeout, func() {}) }

func (b httpBackend) Health(names []string, timeout time.Duration) (listeners.Health, bool) {
	return b.loop.Health(names, timeout)
}

func (b httpBackend) Listeners() []string {
	b.r.mu.Lock()
	defer b.r.mu.Unlock()
	names := make([]string, 0, len(b.r.current.Listeners)+len(b.r.notStarted))
	for i := range b.r.current.Listeners {
		names = append(names, b.r.current.Listeners[i].Name)
	}
	return slices.Concat(names, b.r.notStarted)
}

// scrape is one observation of the loop with what the reloader knows, for /metrics.
func (d *daemon) scrape(loop *listeners.Loop) (metrics.Scrape, bool) {
	obs, ok := loop.Observe(httpapi.LoopTimeout)
	if !ok {
		return metrics.Scrape{}, false
	}
	s := metrics.Scrape{Observation: obs, Version: version, Reloads: map[string]uint64{}}
	r := d.reloader
	r.mu.Lock()
	for k, v := range r.outcomes {
		s.Reloads[k] = v
	}
	s.LastReloadSuccess = r.lastOK
	r.mu.Unlock()
	return s, true
}

// countOutcome counts a reload for echogate_reloads_total; r.mu is held.
func (r *reloader) countOutcome(res reloadResult) {
	switch res.outcome {
	case outcomeOK:
		r.outcomes["ok"]++
		r.lastOK = res.at
	case outcomePartial:
		r.outcomes["partial"]++
	case outcomeError:
		r.outcomes["failed"]++
	}
}

// setState answers the control socket's "state [ready|drain|maint]".
func (d *daemon) setState(arg string) string {
	loop := d.reloader.loop
	if arg == "" {
		h, ok := loop.Health(nil, httpapi.LoopTimeout)
		if !ok {
			return "error the event loop did not answer"
		}
		return "ok state=" + h.State
	}
	was, ok := loop.SetState(arg, httpapi.LoopTimeout)
	if !ok {
		return "error the event loop did not answer within " + httpapi.LoopTimeout.String() + "; the state may change when it does"
	}
	return fmt.Sprintf("ok state=%s was=%s", arg, was)
}
