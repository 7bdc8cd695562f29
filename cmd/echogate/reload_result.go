package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"echogate/listeners"
)

// The outcomes of one reload.
const (
	outcomeOK        = "ok"        // the new config serves
	outcomePartial   = "partial"   // the plan was applied, but some listeners could not start
	outcomeError     = "error"     // rejected: the running config serves on, untouched
	outcomeUnchanged = "unchanged" // a file event with the same content: nothing was done
)

// errStopping refuses a reload that arrives once a graceful stop has begun.
var errStopping = errors.New("echogate is shutting down; reload ignored")

// errNoFile refuses a reload of a daemon started with -listen flags.
var errNoFile = errors.New("nothing to reload: listeners come from -listen flags")

// reloadResult is what one reload did, for the log, the status and a control client waiting for it.
type reloadResult struct {
	outcome    string
	at         time.Time
	generation uint64 // the generation serving afterwards
	added      int
	removed    int
	changed    int
	kept       int
	failed     []string // listeners that did not start (partial)
	err        error    // why it was rejected, or why the failed listeners did not start
}

// refused is the result of a reload that changed nothing because of err.
func refused(err error) reloadResult {
	return reloadResult{outcome: outcomeError, at: time.Now(), err: err}
}

// appliedResult describes a plan the loop applied as generation gen.
func appliedResult(res listeners.Result, gen uint64) reloadResult {
	out := reloadResult{outcome: outcomeOK, at: time.Now(), generation: gen, added: res.Added,
		removed: res.Removed, changed: res.Changed, kept: res.Kept}
	if len(res.Errors) > 0 {
		out.outcome, out.failed, out.err = outcomePartial, res.Failed, errors.Join(res.Errors...)
	}
	return out
}

// reply is the control socket's one-line answer:
//
//	ok generation=2 added=1 removed=0 changed=1 kept=3
//	partial generation=2 added=0 removed=0 changed=1 kept=3 failed=a,b error=listener "a": ...
//	error echogate.toml:12:3: listener "diag": max_line must be between 1 and 1048576
//
// An error of several lines is joined with "; ".
func (r reloadResult) reply() string {
	counts := fmt.Sprintf("generation=%d added=%d removed=%d changed=%d kept=%d", r.generation, r.added,
		r.removed, r.changed, r.kept)
	switch r.outcome {
	case outcomeOK:
		return "ok " + counts
	case outcomePartial:
		return "partial " + counts + " failed=" + strings.Join(r.failed, ",") + " error=" + r.errText()
	case outcomeUnchanged:
		return fmt.Sprintf("ok generation=%d unchanged", r.generation)
	}
	return "error " + r.errText()
}

// errText is the error on one line ("" when there is none).
func (r reloadResult) errText() string {
	if r.err == nil {
		return ""
	}
	return oneLine(r.err.Error())
}

// oneLine joins the non-empty lines of s with "; ", so that a multi-line error fits a one-line reply.
func oneLine(s string) string {
	lines := strings.FieldsFunc(s, func(c rune) bool { return c == '\n' || c == '\r' })
	kept := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "; ")
}
