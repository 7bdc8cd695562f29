// Package policy holds echogate's per-listener rules — allow lists, caps, token checks, rate buckets and
// the /shutdown lockout — as plain values and functions with no syscalls, locks or goroutines.
package policy
