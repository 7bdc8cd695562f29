package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"echogate/config"
	"echogate/listeners"
)

// Backend is what the endpoint asks the daemon.
type Backend interface {
	// Alive reports whether the loop ran a hand-off within timeout.
	Alive(timeout time.Duration) bool
	// Listeners are the listeners of the config file being served, those that failed to start included.
	Listeners() []string
	// Health asks the loop for the state and which of names do not serve.
	Health(names []string, timeout time.Duration) (listeners.Health, bool)
}

// routes are the endpoint's paths. A pattern with GET matches HEAD too; another method on one of these paths
// is answered 405 with an Allow header, and any other path 404.
func routes(b Backend, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.Alive(LoopTimeout) {
			reply(w, http.StatusServiceUnavailable, "the event loop did not answer within %s", LoopTimeout)
			return
		}
		reply(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		status, why := readiness(b)
		reply(w, status, "%s", why)
	})
	mux.HandleFunc("GET /healthz/{listener}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("listener")
		if !slices.Contains(b.Listeners(), name) {
			reply(w, http.StatusNotFound, "unknown listener %q", name)
			return
		}
		h, ok := b.Health([]string{name}, LoopTimeout)
		switch {
		case !ok:
			reply(w, http.StatusServiceUnavailable, "the event loop did not answer within %s", LoopTimeout)
		case len(h.NotServing) > 0:
			reply(w, http.StatusServiceUnavailable, "listener %s is not serving", name)
		default:
			reply(w, http.StatusOK, "listener %s is serving", name)
		}
	})
	return mux
}

// readiness is /readyz: 200 when the state is ready and every listener of the config serves.
func readiness(b Backend) (int, string) {
	h, ok := b.Health(b.Listeners(), LoopTimeout)
	switch {
	case !ok:
		return http.StatusServiceUnavailable, fmt.Sprintf("not ready: the event loop did not answer within %s", LoopTimeout)
	case len(h.NotServing) > 0:
		return http.StatusServiceUnavailable, "not ready: not serving: " + strings.Join(h.NotServing, ", ")
	case h.State != config.StateReady:
		return http.StatusServiceUnavailable, "not ready: state " + h.State
	}
	return http.StatusOK, "ready"
}

// reply writes a one-line text answer that no cache keeps.
func reply(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, format+"\n", args...)
}
