package obs

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a fresh Prometheus registry with the Go and process
// collectors registered. Besides the Go collector's defaults it exports
// go_gc_heap_live_bytes, the heap the last collection marked live: the
// heap's size without the garbage waiting for the next collection, which
// depends on the collector's pacing (cmd/dgp sets a heap floor).
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// MetricsHandler serves reg in the Prometheus text format.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// ReadyCheck reports whether one dependency is usable. It returns a short
// status word ("ok", "stale", ...) and an error when not ready. A check may
// answer "degraded" information with a nil error (ready, but worth showing).
type ReadyCheck func(ctx context.Context) (status string, err error)

// Health serves /_/health (the process is up) and /_/ready (every registered
// check passes). Checks run concurrently with a timeout.
type Health struct {
	mu      sync.Mutex
	checks  map[string]ReadyCheck
	timeout time.Duration
}

// NewHealth returns a Health whose checks each get timeout.
func NewHealth(timeout time.Duration) *Health {
	return &Health{checks: map[string]ReadyCheck{}, timeout: timeout}
}

// Add registers a named readiness check.
func (h *Health) Add(name string, c ReadyCheck) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks[name] = c
}

// ServeHealth answers 200 {"status":"ok"} while the process serves.
func (h *Health) ServeHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ServeReady runs every check and answers 200 when all pass, else 503, with
// each check's status in the body.
func (h *Health) ServeReady(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	names := make([]string, 0, len(h.checks))
	for n := range h.checks {
		names = append(names, n)
	}
	checks := make(map[string]ReadyCheck, len(h.checks))
	for n, c := range h.checks {
		checks[n] = c
	}
	h.mu.Unlock()
	sort.Strings(names)

	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	type result struct {
		status string
		err    error
	}
	results := make([]result, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := checks[n](ctx)
			results[i] = result{s, err}
		}()
	}
	wg.Wait()

	body := map[string]any{}
	ready := true
	for i, n := range names {
		res := results[i]
		if res.err != nil {
			ready = false
			if res.status == "" {
				res.status = "error"
			}
			body[n] = map[string]string{"status": res.status, "error": res.err.Error()}
			continue
		}
		if res.status == "" {
			res.status = "ok"
		}
		body[n] = res.status
	}
	status := http.StatusOK
	body["status"] = "ready"
	if !ready {
		status = http.StatusServiceUnavailable
		body["status"] = "not_ready"
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
