// Package report is the one-line JSON result of an echoload run, shared by echoload, which prints it, and
// echobench, which reads it.
package report

// Result is the one JSON line echoload prints with -json.
type Result struct {
	Proto       string  `json:"proto"`
	Conns       int     `json:"conns"`
	Size        int     `json:"size"`
	Pipeline    int     `json:"pipeline"`         // batch mode: lines written at once, all awaited
	Window      int     `json:"window,omitempty"` // sliding-window mode: lines kept in flight
	Rate        float64 `json:"rate,omitempty"`   // open-loop mode: the configured round trips per second
	DurationS   float64 `json:"duration_s"`
	RoundTrips  uint64  `json:"round_trips"` // echoed lines or datagrams
	RPS         float64 `json:"rps"`
	MBperS      float64 `json:"mb_per_s"` // megabytes (1e6) of echoed payload per second
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	P999us      float64 `json:"p999_us"`
	Errors      uint64  `json:"errors"`
	Established int     `json:"established"` // connections opened
	Lost        int     `json:"lost"`        // connections that failed or closed during the run

	Ping *Ping `json:"ping,omitempty"` // ping mode only
}

// Ping is the summary of a ping-mode run (-count): probes sent and echoed intact, and their round trips.
type Ping struct {
	Sent     int     `json:"sent"`
	Received int     `json:"received"`
	LossPct  float64 `json:"loss_pct"`
	MinUs    float64 `json:"min_us"`
	AvgUs    float64 `json:"avg_us"`
	MaxUs    float64 `json:"max_us"`
	MdevUs   float64 `json:"mdev_us"` // the standard deviation, as ping's mdev
}
