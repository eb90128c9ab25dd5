package s3api

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the dgp_s3_* Prometheus series of one Server.
type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	bytesReceived prometheus.Counter
	bytesSent     prometheus.Counter

	// series caches the children of requests and duration per operation
	// and status, so a request costs no label hashing or status
	// formatting. Operations and statuses are finite sets.
	mu     sync.RWMutex
	series map[opStatus]opSeries
}

type opStatus struct {
	op     string
	status int
}

type opSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_s3_requests_total",
			Help: "S3 requests served, by operation and HTTP status.",
		}, []string{"op", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dgp_s3_request_duration_seconds",
			Help:    "Time to serve an S3 request, body included, by operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"op"}),
		bytesReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dgp_s3_bytes_received_total",
			Help: "Request body bytes received from S3 clients (decoded payload).",
		}),
		bytesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dgp_s3_bytes_sent_total",
			Help: "Response body bytes sent to S3 clients.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.bytesReceived, m.bytesSent} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// seriesFor returns the cached series of op and status.
func (m *metrics) seriesFor(op string, status int) opSeries {
	k := opStatus{op: op, status: status}
	m.mu.RLock()
	ser, ok := m.series[k]
	m.mu.RUnlock()
	if ok {
		return ser
	}
	ser = opSeries{
		requests: m.requests.WithLabelValues(op, strconv.Itoa(status)),
		duration: m.duration.WithLabelValues(op),
	}
	m.mu.Lock()
	if m.series == nil {
		m.series = make(map[opStatus]opSeries)
	}
	m.series[k] = ser
	m.mu.Unlock()
	return ser
}

func (m *metrics) observe(op string, status int, d time.Duration, in, out int64) {
	ser := m.seriesFor(op, status)
	ser.requests.Inc()
	ser.duration.Observe(d.Seconds())
	if in > 0 {
		m.bytesReceived.Add(float64(in))
	}
	if out > 0 {
		m.bytesSent.Add(float64(out))
	}
}
