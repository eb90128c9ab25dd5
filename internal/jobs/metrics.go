package jobs

import "github.com/prometheus/client_golang/prometheus"

// metrics are the dgp_jobs_* series, labelled by kind and rule.
type metrics struct {
	objects  *prometheus.CounterVec   // kind, rule, outcome (copied, skipped, deleted, failed)
	bytes    *prometheus.CounterVec   // kind, rule
	runs     *prometheus.CounterVec   // kind, rule, status
	duration *prometheus.HistogramVec // kind, rule
	queued   *prometheus.CounterVec   // rule, outcome (written, failed): markers this instance wrote
	drained  *prometheus.CounterVec   // rule: markers the leader consumed
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_jobs_objects_total",
			Help: "Objects handled by job runs on this instance, by outcome (copied, skipped, deleted, failed).",
		}, []string{"kind", "rule", "outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_jobs_bytes_total",
			Help: "Bytes copied by job runs on this instance.",
		}, []string{"kind", "rule"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_jobs_runs_total",
			Help: "Job runs finished on this instance, by status (succeeded, partial, failed).",
		}, []string{"kind", "rule", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dgp_jobs_run_duration_seconds",
			Help:    "Duration of job runs on this instance.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}, []string{"kind", "rule"}),
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_jobs_queue_markers_total",
			Help: "Write markers this instance queued for replication rules, by outcome (written, failed).",
		}, []string{"rule", "outcome"}),
		drained: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_jobs_queue_drained_total",
			Help: "Write markers consumed by this instance as a replication rule's leader.",
		}, []string{"rule"}),
	}
	if reg != nil {
		reg.MustRegister(m.objects, m.bytes, m.runs, m.duration, m.queued, m.drained)
	}
	return m
}
