package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// report is everything one bench run measured; it is printed as a table and written as JSON.
type report struct {
	Started   string        `json:"started"`
	Seconds   float64       `json:"seconds"`
	Rounds    int           `json:"rounds"`
	DurationS float64       `json:"run_duration_s"`
	SelfTest  bool          `json:"self_test"`
	Points    []pointResult `json:"points"`
	Idle      *idleResult   `json:"idle,omitempty"`
	Reload    *reloadResult `json:"reload,omitempty"`
	Stamp     *stampReport  `json:"stamp,omitempty"`
	TLS       *tlsResult    `json:"tls,omitempty"`
}

// incomplete tells whether a server could not be measured somewhere (a skipped reload in -self-test aside).
func (r *report) incomplete() bool {
	for _, p := range r.Points {
		if p.C.Err != "" || p.Echogate.Err != "" {
			return true
		}
	}
	if r.Idle != nil && (r.Idle.C.Err != "" || r.Idle.Echogate.Err != "") {
		return true
	}
	return r.Reload != nil && r.Reload.Err != "" && !r.SelfTest || r.Stamp != nil && r.Stamp.Err != ""
}

// printTable prints the aligned table: one row per point, the idle-memory rows, the reload row and notes.
func printTable(w io.Writer, r *report) {
	rows := [][]string{{"point", "C rt/s", "C µs/rt", "echogate rt/s", "echogate µs/rt", "ratio",
		"C p50/p99/p999 µs", "echogate p50/p99/p999 µs"}}
	var notes []string
	for _, p := range r.Points {
		cr, cu, cn := sideCells(p.Name, &p.C)
		er, eu, en := sideCells(p.Name, &p.Echogate)
		notes = append(append(notes, cn...), en...)
		rows = append(rows, []string{p.Name, cr, cu, er, eu, ratioCell(p.Ratio), latencyCell(p.point, &p.C),
			latencyCell(p.point, &p.Echogate)})
	}
	if r.Idle != nil {
		ce, cb, cn := idleCells(&r.Idle.C)
		ee, eb, en := idleCells(&r.Idle.Echogate)
		notes = append(append(notes, cn...), en...)
		rows = append(rows, []string{"idle memory: conns held, RSS B/conn", ce, cb, ee, eb, "-", "-", "-"})
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, row := range rows {
		fmt.Fprintf(w, "%-*s", widths[0], row[0])
		for i := 1; i < len(row); i++ {
			fmt.Fprintf(w, "  %*s", widths[i], row[i])
		}
		fmt.Fprintln(w)
	}
	if r.Reload != nil {
		fmt.Fprintln(w, reloadRow(r.Reload))
	}
	printStamp(w, r.Stamp)
	printTLS(w, r.TLS)
	fmt.Fprintf(w, "ratio = echogate CPU µs per round trip / C CPU µs per round trip (lower is better); "+
		"%d round(s) of %gs per server per point, interleaved; total %.0fs\n", r.Rounds, r.DurationS, r.Seconds)
	if o := openLoopNote(r); o != "" {
		fmt.Fprintln(w, o)
	}
	if r.SelfTest {
		fmt.Fprintln(w, "self-test: the C loop ran in both slots")
	}
	for _, n := range notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// sideCells formats one server's rt/s and µs/rt, and the notes they need.
func sideCells(point string, s *side) (rps, us string, notes []string) {
	if s.Err != "" && s.RoundTrips == 0 {
		return "n/a", "n/a", []string{fmt.Sprintf("%s, %s: %s", point, s.Server, oneLine(s.Err))}
	}
	rps, us = fmt.Sprintf("%.0f", s.RPS), fmt.Sprintf("%.3f", s.CPUusPerRT)
	if s.Errors > 0 {
		rps += "!"
		notes = append(notes, fmt.Sprintf("%s, %s: %d echo errors (lost or wrong replies): %s", point, s.Server,
			s.Errors, oneLine(s.ErrSample)))
	}
	if s.Err != "" {
		rps += "!"
		notes = append(notes, fmt.Sprintf("%s, %s: %s", point, s.Server, oneLine(s.Err)))
	}
	return rps, us, notes
}

// idleCells formats one server's idle-memory figures.
func idleCells(s *idleSide) (conns, perConn string, notes []string) {
	if s.Err != "" {
		return "n/a", "n/a", []string{fmt.Sprintf("idle memory, %s: %s", s.Server, oneLine(s.Err))}
	}
	if s.Lost > 0 {
		notes = append(notes, fmt.Sprintf("idle memory, %s: %d connections lost", s.Server, s.Lost))
	}
	return fmt.Sprintf("%d", s.Established), fmt.Sprintf("%.0f", s.BytesPerConn), notes
}

func ratioCell(r float64) string {
	if r == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", r)
}

// reloadRow is the one line about the reload point.
func reloadRow(r *reloadResult) string {
	s := fmt.Sprintf("reload with %d listeners and %d open connections: took=%s loop_pause=%s, connections lost %d",
		r.Listeners, r.Established, orNA(r.Took), orNA(r.LoopPause), r.Lost)
	if r.Err != "" {
		s += " (" + oneLine(r.Err) + ")"
	}
	return s
}

// oneLine shortens an error message to one line of at most 300 characters.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// writeJSON writes the report to path.
func writeJSON(path string, r *report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
