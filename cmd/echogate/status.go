package main

import (
	"encoding/json"
	"os"
	"time"

	"echogate/config"
	"echogate/listeners"
)

// statusReport is the control socket's answer to "status", and what `echogate status -json` prints.
type statusReport struct {
	Version       string        `json:"version"`
	PID           int           `json:"pid"`
	StartedAt     string        `json:"started_at"`     // RFC 3339, UTC
	Config        string        `json:"config"`         // the file it serves; "" with -listen flags
	ConfigSHA256  string        `json:"config_sha256"`  // of the file's bytes when they were applied
	Generation    uint64        `json:"generation"`     // 1 at start, +1 per applied reload (partial ones too)
	LoadedAt      string        `json:"loaded_at"`      // when the serving config was applied
	ControlSocket string        `json:"control_socket"` // where this answer came from
	LastReload    *reloadStatus `json:"last_reload"`    // null until the first reload
	listeners.Totals
	Listeners []listenerStatus `json:"listeners"`
}

// reloadStatus is the outcome of the last reload that did something.
type reloadStatus struct {
	Result     string   `json:"result"` // ok, partial or error
	At         string   `json:"at"`
	Generation uint64   `json:"generation,omitempty"` // the generation it applied (ok, partial)
	Error      string   `json:"error,omitempty"`      // on one line, lines joined with "; "
	Failed     []string `json:"failed,omitempty"`     // listeners that did not start (partial)
}

// listenerStatus is one listener: where it is bound, its effective settings and its counters. A token is
// never shown: token_set says whether a TCP listener has one.
type listenerStatus struct {
	Name     string             `json:"name"`
	Protocol string             `json:"protocol"`
	Address  string             `json:"address"` // as bound (the real port when the config said 0)
	Open     int                `json:"open"`    // TCP connections or active UDP peers
	Draining bool               `json:"draining,omitempty"`
	Settings map[string]any     `json:"settings,omitempty"` // every key of its protocol, after defaults
	Counters listeners.Counters `json:"counters"`
}

// status gathers the report: the config from the reloader, the counters from the loop.
func (d *daemon) status() statusReport {
	r := d.reloader
	r.mu.Lock()
	cfg, gen, loadedAt, last := r.current, r.generation, r.loadedAt, r.last
	r.mu.Unlock()
	snap := r.loop.Snapshot()
	rep := statusReport{Version: version, PID: os.Getpid(), StartedAt: listeners.FormatTime(d.startedAt),
		Config: cfg.Path, ConfigSHA256: configSHA256(cfg), Generation: gen, LoadedAt: listeners.FormatTime(loadedAt),
		ControlSocket: d.control.currentPath(), Totals: snap.Totals, Listeners: []listenerStatus{}}
	if last != nil {
		rep.LastReload = &reloadStatus{Result: last.outcome, At: listeners.FormatTime(last.at),
			Generation: last.generation, Error: last.errText(), Failed: last.failed}
	}
	seen := map[string]bool{}
	for i := range cfg.Listeners {
		lc := &cfg.Listeners[i]
		st, ok := snap.Listeners[lc.Name]
		if !ok || st.Draining {
			continue // not serving (the loop has stopped)
		}
		seen[lc.Name] = true
		rep.Listeners = append(rep.Listeners, listenerStatus{Name: lc.Name, Protocol: st.Protocol,
			Address: st.Address, Open: st.Open, Settings: settingsOf(lc), Counters: st.Counters})
	}
	for name, st := range snap.Listeners { // removed by a reload, still serving their open connections
		if !seen[name] {
			rep.Listeners = append(rep.Listeners, listenerStatus{Name: name, Protocol: st.Protocol,
				Address: st.Address, Open: st.Open, Draining: st.Draining, Counters: st.Counters})
		}
	}
	return rep
}

// statusJSON is the report as the control socket sends it: one line.
func (d *daemon) statusJSON() ([]byte, error) { return json.Marshal(d.status()) }

// settingsOf is a listener's effective settings, without name, protocol and address (given beside them) and
// without where its token comes from: only whether there is one.
func settingsOf(lc *config.Listener) map[string]any {
	m := map[string]any{}
	for _, s := range config.Settings(lc) {
		switch s.Key {
		case "name", "protocol", "address", "token_credential", "token_file":
			continue
		}
		m[s.Key] = s.Value
	}
	if lc.Protocol == config.TCP {
		m["token_set"] = lc.Token != ""
	}
	return m
}

// parseTime reads a time written by listeners.FormatTime (the zero time for "").
func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
