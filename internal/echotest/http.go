package echotest

import (
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var httpAddrAttr = regexp.MustCompile(`msg="http endpoint" addr=(\S+)`)

// HTTPAddr returns where the daemon's HTTP endpoint serves, from its newest "http endpoint" log line.
func (d *Daemon) HTTPAddr() string {
	d.t.Helper()
	if _, err := d.WaitLog(`msg="http endpoint"`, 5*time.Second); err != nil {
		d.t.Fatal(err)
	}
	lines := d.Lines()
	for i := len(lines) - 1; i >= 0; i-- {
		if m := httpAddrAttr.FindStringSubmatch(lines[i]); m != nil {
			return m[1]
		}
	}
	d.t.Fatal("no http endpoint address logged")
	return ""
}

// HTTPGet asks url with method GET (or the one given) and returns the status and the body (10 s at most).
func HTTPGet(t *testing.T, url string, method ...string) (int, string) {
	t.Helper()
	m := http.MethodGet
	if len(method) > 0 {
		m = method[0]
	}
	req, err := http.NewRequest(m, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", m, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", m, url, err)
	}
	return resp.StatusCode, string(body)
}

// Scrape gets /metrics from the HTTP endpoint at addr, checks it with `promtool check metrics` when
// promtool is installed (it reports lint problems and exits non-zero), and parses it with Prometheus' own
// text parser.
func Scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := HTTPGet(t, "http://"+addr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	if path, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(path, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// MetricValue is the value of the sample of family name whose labels include every pair of labels
// ("listener", "diag", ...); false when there is none.
func MetricValue(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if hasLabels(m, labels) {
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
		}
		if !found {
			return false
		}
	}
	return true
}
