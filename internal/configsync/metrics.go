package configsync

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

// Pull sources: the value of the `source` log field and metric label.
const (
	SourceStartup   = "startup"
	SourceEvent     = "event"
	SourcePoll      = "poll"
	SourceSyncNow   = "sync-now"
	SourceReconnect = "reconnect"
	// SourcePublish: a publish fetched a newer DB from the bucket and
	// adopted it without superseding it (the op no longer applied, or was
	// a no-op on it).
	SourcePublish = "publish"
)

// Pull results: the `result` label of dgp_config_sync_pulls_total and the
// result of Status().LastPull. The rejection results name why a DB was not
// applied.
const (
	ResultUpdated      = "updated"        // a new DB was verified and applied
	ResultCurrent      = "current"        // 304, or the same DB as held
	ResultEmpty        = "empty"          // no object in the bucket yet
	ResultUnavailable  = "unavailable"    // the bucket could not be reached
	ResultOlder        = "older"          // a lower generation, not applied
	ResultWrongSecret  = "wrong_secret"   // authentication failed: wrong secret or tampered
	ResultTruncated    = "truncated"      // shorter than its header says
	ResultMalformed    = "malformed"      // not a dgp config DB, bad header
	ResultSchemaTooNew = "schema_too_new" // written by a newer binary: upgrade this instance
	ResultInvalid      = "invalid_state"  // decrypted but does not decode or validate
)

// Publish results: the `result` label of dgp_config_sync_publishes_total.
const (
	PublishOK          = "ok"
	PublishNoop        = "noop"        // the op changed nothing
	PublishRejected    = "rejected"    // the op does not apply (conflict, not found, invalid)
	PublishUnavailable = "unavailable" // bucket unreachable or unverifiable, or too many conflicts
	PublishMidUpgrade  = "mid_upgrade" // the bucket holds a newer schema
	PublishReadOnly    = "read_only"   // this instance is a reader
	PublishLocalError  = "local_error" // without a bucket: the local file could not be written
)

// metrics are the config sync series. All are created by newMetrics and
// registered with the Options' Registerer when it is not nil.
type metrics struct {
	pulls       *prometheus.CounterVec
	publishes   *prometheus.CounterVec
	conflicts   prometheus.Counter
	generation  prometheus.Gauge
	schema      prometheus.Gauge
	minReader   prometheus.Gauge
	supported   prometheus.Gauge
	lastSuccess prometheus.Gauge
	sinceOK     prometheus.GaugeFunc
	lag         prometheus.Histogram
}

// lagBuckets spans 1ms to 10s.
var lagBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func newMetrics(reg prometheus.Registerer, sinceLastSuccess func() float64) *metrics {
	m := &metrics{
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_config_sync_pulls_total",
			Help: "Config DB pulls by trigger source and result.",
		}, []string{"source", "result"}),
		publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_config_sync_publishes_total",
			Help: "Config DB publishes (IAM mutations) by result.",
		}, []string{"result"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dgp_config_sync_cas_conflicts_total",
			Help: "Publishes that lost a compare-and-swap (412) to another instance.",
		}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dgp_config_sync_generation",
			Help: "Generation of the config DB this instance serves.",
		}),
		schema: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dgp_config_sync_schema",
			Help: "Schema of the config DB this instance holds (0: none yet). Above dgp_config_sync_supported_schema: a newer, additive schema, applied but never rewritten by this instance.",
		}),
		minReader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dgp_config_sync_min_reader_schema",
			Help: "Lowest schema a binary must support to read the config DB this instance holds (0: none yet).",
		}),
		supported: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dgp_config_sync_supported_schema",
			Help: "Newest config DB schema this binary reads and writes.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dgp_config_sync_last_success_timestamp_seconds",
			Help: "Unix time of the last successful exchange with the sync bucket (pull or publish).",
		}),
		sinceOK: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dgp_config_sync_seconds_since_last_success",
			Help: "Seconds since the last successful exchange with the sync bucket (-1 before the first).",
		}, sinceLastSuccess),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dgp_config_sync_event_apply_lag_seconds",
			Help:    "Time from a config DB change event to the new DB being applied.",
			Buckets: lagBuckets,
		}),
	}
	if reg != nil {
		reg.MustRegister(m.pulls, m.publishes, m.conflicts, m.generation, m.schema, m.minReader, m.supported,
			m.lastSuccess, m.sinceOK, m.lag)
	}
	m.supported.Set(configdb.CurrentSchema)
	return m
}

// setHeld records the generation and the header of the DB held.
func (m *metrics) setHeld(generation uint64, h configdb.Header) {
	m.generation.Set(float64(generation))
	m.schema.Set(float64(h.Schema))
	m.minReader.Set(float64(h.MinReaderSchema))
}

func (m *metrics) observeLag(d time.Duration) { m.lag.Observe(max(d, 0).Seconds()) }
