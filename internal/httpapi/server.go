package httpapi

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"echogate/internal/logmsg"
)

// The server's bounds: the admin port must be no easier to knock over than the echo ports.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second // a scrape of 10 000 listeners is a few MB
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 8 << 10
	// LoopTimeout is how long a request waits for the loop's answer: longer, and /healthz says 503.
	LoopTimeout = time.Second
)

// Server serves the endpoint on one listening socket at a time; Move changes the socket on reload.
type Server struct {
	log     *slog.Logger
	allow   atomic.Pointer[[]netip.Prefix]
	refused prometheus.Counter
	handler http.Handler

	mu  sync.Mutex
	srv *http.Server
	ln  net.Listener
}

// New returns a server that answers from b and gathers /metrics from reg, into which it registers its own
// counter of refused clients.
func New(log *slog.Logger, b Backend, reg *prometheus.Registry) *Server {
	s := &Server{log: log}
	s.refused = prometheus.NewCounter(prometheus.CounterOpts{Name: "echogate_http_refused_total",
		Help: "Connections to the HTTP endpoint from outside http_allow, closed unanswered."})
	reg.MustRegister(s.refused)
	s.handler = routes(b, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{log},
		MaxRequestsInFlight: 4, Timeout: writeTimeout}))
	empty := []netip.Prefix{}
	s.allow.Store(&empty)
	return s
}

// SetAllow sets who may connect (http_allow); it applies to the next connection.
func (s *Server) SetAllow(allow []netip.Prefix) { s.allow.Store(&allow) }

// Serve starts serving on ln, in place of the socket served before (which is closed).
func (s *Server) Serve(ln net.Listener) {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	s.replace(srv, ln)
	s.log.Info(logmsg.HTTP, "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(&allowListener{Listener: ln, s: s}); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn(logmsg.HTTP, "event", "stopped", "err", err)
		}
	}()
}

// Addr is the address served now ("" when none).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops serving.
func (s *Server) Close() { s.replace(nil, nil) }

// replace makes srv, serving ln, the server (nil: none) and closes the one served before, if any.
func (s *Server) replace(srv *http.Server, ln net.Listener) {
	s.mu.Lock()
	old := s.srv
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
}

// allowListener closes connections from outside http_allow before a byte is read.
type allowListener struct {
	net.Listener
	s *Server
}

func (a *allowListener) Accept() (net.Conn, error) {
	for {
		c, err := a.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if peer, ok := addrOf(c.RemoteAddr()); ok && allowed(*a.s.allow.Load(), peer) {
			return c, nil
		}
		a.s.refused.Inc()
		a.s.log.Debug(logmsg.HTTP, "event", "refused", "peer", c.RemoteAddr().String(), "reason", "http_allow")
		_ = c.Close()
	}
}

// addrOf is the IP address of a TCP peer, unmapped.
func addrOf(a net.Addr) (netip.Addr, bool) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	return ip.Unmap(), ok
}

// allowed reports whether a lies in one of the prefixes.
func allowed(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// slogPrinter gives promhttp's error log to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn(logmsg.HTTP, "event", "scrape failed", "err", v) }
