package testharness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Metrics are the Prometheus samples of a /_/metrics page, keyed
// "name{labels}" as the text format writes them.
type Metrics map[string]float64

// ScrapeMetrics reads url (an instance's /_/metrics) with hc.
func ScrapeMetrics(ctx context.Context, hc *http.Client, url string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return ParseMetrics(string(b)), nil
}

// ParseMetrics reads the samples of a Prometheus text page; comments and
// lines without a number are passed over.
func ParseMetrics(page string) Metrics {
	out := Metrics{}
	for _, line := range strings.Split(page, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// Sum adds the samples of metric whose labels contain every one of labels
// (each a `name="value"` fragment).
func (m Metrics) Sum(metric string, labels ...string) float64 {
	var s float64
	for k, v := range m {
		if k != metric && !strings.HasPrefix(k, metric+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(k, l)
		}
		if ok {
			s += v
		}
	}
	return s
}
