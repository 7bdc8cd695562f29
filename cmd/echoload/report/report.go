// Package report is the one-line JSON result of an echoload run, shared by echoload, which prints it, and
// echobench, which reads it.
package report

// Result is the one JSON line echoload prints.
type Result struct {
	Proto       string  `json:"proto"`
	Conns       int     `json:"conns"`
	Size        int     `json:"size"`
	Pipeline    int     `json:"pipeline"`
	DurationS   float64 `json:"duration_s"`
	RoundTrips  uint64  `json:"round_trips"` // echoed lines or datagrams
	RPS         float64 `json:"rps"`
	MBps        float64 `json:"mbps"` // megabytes (1e6) of echoed payload per second
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	P999us      float64 `json:"p999_us"`
	Errors      uint64  `json:"errors"`
	Established int     `json:"established"` // idle mode: connections opened
	Lost        int     `json:"lost"`        // idle mode: connections that closed while held
}
