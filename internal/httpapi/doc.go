// Package httpapi is the HTTP endpoint for machines: /metrics for Prometheus, /healthz and /readyz for
// orchestrators and load balancers, /healthz/<listener> for one listener. It runs on its own goroutines and
// asks the event loop only through its queue.
package httpapi
