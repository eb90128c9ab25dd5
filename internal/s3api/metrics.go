package s3api

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the dgp_s3_* Prometheus series of one Server.
type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	bytesReceived prometheus.Counter
	bytesSent     prometheus.Counter
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

func (m *metrics) observe(op string, status int, d time.Duration, in, out int64) {
	m.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(op).Observe(d.Seconds())
	if in > 0 {
		m.bytesReceived.Add(float64(in))
	}
	if out > 0 {
		m.bytesSent.Add(float64(out))
	}
}
