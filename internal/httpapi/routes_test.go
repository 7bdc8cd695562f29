package httpapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"echogate/listeners"
)

// fakeBackend answers as a daemon with the given listeners, state and loop.
type fakeBackend struct {
	alive      bool
	state      string
	names      []string
	notServing []string
}

func (f fakeBackend) Alive(time.Duration) bool { return f.alive }
func (f fakeBackend) Listeners() []string      { return f.names }
func (f fakeBackend) Health(names []string, _ time.Duration) (listeners.Health, bool) {
	h := listeners.Health{State: f.state}
	for _, n := range names {
		if slices.Contains(f.notServing, n) {
			h.NotServing = append(h.NotServing, n)
		}
	}
	return h, f.alive
}

func TestRoutes(t *testing.T) {
	up := fakeBackend{alive: true, state: "ready", names: []string{"a", "u"}}
	for _, tc := range []struct {
		name   string
		b      fakeBackend
		method string
		path   string
		code   int
		body   string
	}{
		{"alive", up, "GET", "/healthz", 200, "ok\n"},
		{"wedged", fakeBackend{state: "ready"}, "GET", "/healthz", 503, "the event loop did not answer within 1s\n"},
		{"ready", up, "GET", "/readyz", 200, "ready\n"},
		{"drain", fakeBackend{alive: true, state: "drain", names: []string{"a"}}, "GET", "/readyz", 503, "not ready: state drain\n"},
		{"not serving wins over the state", fakeBackend{alive: true, state: "maint", names: []string{"a", "u"},
			notServing: []string{"u"}}, "GET", "/readyz", 503, "not ready: not serving: u\n"},
		{"wedged readyz", fakeBackend{state: "ready"}, "GET", "/readyz", 503, "not ready: the event loop did not answer within 1s\n"},
		{"listener serving", up, "GET", "/healthz/u", 200, "listener u is serving\n"},
		{"listener not serving", fakeBackend{alive: true, state: "ready", names: []string{"u"}, notServing: []string{"u"}},
			"GET", "/healthz/u", 503, "listener u is not serving\n"},
		{"unknown listener", up, "GET", "/healthz/x", 404, "unknown listener \"x\"\n"},
		{"HEAD", up, "HEAD", "/readyz", 200, "ready\n"}, // net/http drops the body of HEAD on the wire (TestHTTPPaths)
		{"POST", up, "POST", "/readyz", 405, "Method Not Allowed\n"},
		{"other path", up, "GET", "/debug/pprof/", 404, "404 page not found\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
			rec := httptest.NewRecorder()
			routes(tc.b, metrics).ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.code || rec.Body.String() != tc.body {
				t.Fatalf("%d %q, want %d %q", rec.Code, rec.Body.String(), tc.code, tc.body)
			}
		})
	}
}
