package lease

import "github.com/prometheus/client_golang/prometheus"

// metrics are the lease series, labelled by kind and rule. All are
// created by newMetrics and registered with the Options' Registerer when
// it is not nil.
type metrics struct {
	held         *prometheus.GaugeVec
	acquisitions *prometheus.CounterVec
	steals       *prometheus.CounterVec
	lostRenewals *prometheus.CounterVec
	refusals     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	labels := []string{"kind", "rule"}
	m := &metrics{
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dgp_lease_held",
			Help: "1 while this instance holds the lease of the rule, else 0.",
		}, labels),
		acquisitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_lease_acquisitions_total",
			Help: "Leases this instance acquired (steals included).",
		}, labels),
		steals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_lease_steals_total",
			Help: "Leases this instance took over from another holder after they expired.",
		}, labels),
		lostRenewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_lease_lost_renewals_total",
			Help: "Leases this instance held and lost: a renewal failed or was refused, or the local deadline passed.",
		}, labels),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_lease_fence_refusals_total",
			Help: "Writes the fence refused because the lease was no longer held.",
		}, labels),
	}
	if reg != nil {
		reg.MustRegister(m.held, m.acquisitions, m.steals, m.lostRenewals, m.refusals)
	}
	return m
}
