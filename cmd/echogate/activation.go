package main

import (
	"fmt"
	"log/slog"

	"echogate/config"
	"echogate/internal/logmsg"
	"echogate/listeners"
	"echogate/systemd"
)

// activation remembers every socket systemd passed, by the listener name it belongs to, for the life of the
// process: a reload that removes a listener leaves its socket open, and one that brings the name back adopts
// it again.
type activation struct {
	byName map[string]systemd.Socket
}

// newActivation reads LISTEN_FDS and assigns the sockets to the listeners of cfg.
func newActivation(cfg *config.Config, log *slog.Logger) (*activation, error) {
	sockets, err := systemd.ListenFDs()
	if err != nil {
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	a := &activation{byName: map[string]systemd.Socket{}}
	if len(sockets) == 0 {
		return a, nil
	}
	claimed, unclaimed, err := systemd.Match(sockets, cfg.Listeners)
	if err != nil {
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	for name, s := range claimed {
		a.byName[name] = s
		log.Info(logmsg.Adopted, "listener", name, "fd", s.FD, "addr", s.Addr)
	}
	for _, s := range unclaimed {
		if s.Name == httpSocketName && s.Err == nil {
			a.byName[s.Name] = s // the HTTP endpoint's (http.go)
			continue
		}
		if s.Err != nil {
			log.Warn(logmsg.SocketKept, "event", "systemd passed a socket echogate cannot serve and no listener claims",
				"fd", s.FD, "name", s.Name, "err", s.Err)
			continue
		}
		log.Warn(logmsg.SocketKept, "event", "systemd passed a socket no listener claims", "fd", s.FD, "name", s.Name,
			"protocol", s.Protocol, "addr", s.Addr)
		if _, taken := a.byName[s.Name]; !taken && s.Name != "unknown" {
			a.byName[s.Name] = s
		}
	}
	return a, nil
}

// names lists the names systemd passed sockets under, for config.PlanActivated.
func (a *activation) names() map[string]bool {
	names := make(map[string]bool, len(a.byName))
	for name := range a.byName {
		names[name] = true
	}
	return names
}

// lookup is the listeners.Activated for this process.
func (a *activation) lookup(lc *config.Listener) (listeners.Binding, bool, error) {
	s, ok := a.byName[lc.Name]
	if !ok {
		return listeners.Binding{}, false, nil
	}
	if s.Protocol != string(lc.Protocol) {
		return listeners.Binding{}, false, fmt.Errorf("listener %q is %s but systemd passed a %s socket named %q",
			lc.Name, lc.Protocol, s.Protocol, s.Name)
	}
	return listeners.Binding{FD: s.FD, Addr: s.Addr, Inherited: true}, true, nil
}
