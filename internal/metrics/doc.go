// Package metrics turns one observation of the loop into Prometheus metrics: a custom collector of const
// metrics, driven by a table with one row per counter.
package metrics
