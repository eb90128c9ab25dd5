package notify

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus series shared by every event source, labelled
// by source ("nats", "sqs"). A nil *Metrics is valid and records nothing.
type Metrics struct {
	connected   *prometheus.GaugeVec
	messages    *prometheus.CounterVec
	lastMessage *prometheus.GaugeVec
	lag         *prometheus.HistogramVec
}

// NewMetrics creates the event-source metrics and registers them with reg
// (when reg is not nil). It panics if they are already registered there, as
// prometheus.MustRegister does; create one Metrics per registry.
//
//	dgp_config_sync_event_source_connected{source}              gauge 0/1
//	dgp_config_sync_event_messages_total{source,outcome}        counter
//	dgp_config_sync_event_last_message_timestamp_seconds{source} gauge
//	dgp_config_sync_event_lag_seconds{source}                   histogram (event time -> applied)
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dgp_config_sync_event_source_connected",
			Help: "Whether the config sync event source is connected (1) or not (0).",
		}, []string{"source"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_config_sync_event_messages_total",
			Help: "Event messages received by the config sync event source, by outcome (applied|irrelevant|test|malformed).",
		}, []string{"source", "outcome"}),
		lastMessage: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dgp_config_sync_event_last_message_timestamp_seconds",
			Help: "Unix time of the last message received by the config sync event source.",
		}, []string{"source"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dgp_config_sync_event_lag_seconds",
			Help:    "Time from a config DB change event to the new DB being applied.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"source"}),
	}
	if reg != nil {
		reg.MustRegister(m.connected, m.messages, m.lastMessage, m.lag)
	}
	return m
}

// initSource creates the series of one source at zero, so dashboards see
// them before the first message.
func (m *Metrics) initSource(source string) {
	if m == nil {
		return
	}
	m.connected.WithLabelValues(source).Set(0)
	for _, o := range Outcomes() {
		m.messages.WithLabelValues(source, string(o)).Add(0)
	}
}

func (m *Metrics) setConnected(source string, ok bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ok {
		v = 1
	}
	m.connected.WithLabelValues(source).Set(v)
}

func (m *Metrics) countMessage(source string, o Outcome, at time.Time) {
	if m == nil {
		return
	}
	m.messages.WithLabelValues(source, string(o)).Inc()
	m.lastMessage.WithLabelValues(source).Set(float64(at.UnixNano()) / 1e9)
}

// ObserveLag records the time from an event (Hint.EventTime) to the moment
// the consumer applied the change it announced. The consumer calls it; a
// negative lag (clock skew) is recorded as zero.
func (m *Metrics) ObserveLag(source string, lag time.Duration) {
	if m == nil {
		return
	}
	m.lag.WithLabelValues(source).Observe(max(lag, 0).Seconds())
}
