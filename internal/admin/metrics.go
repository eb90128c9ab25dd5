package admin

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the admin API.
type metrics struct {
	requests *prometheus.CounterVec // route, status
	logins   *prometheus.CounterVec // result
}

// Results of dgp_admin_logins_total.
const (
	loginSuccess     = "success"
	loginFailure     = "failure"
	loginRateLimited = "rate_limited"
	loginBadRequest  = "bad_request"
)

// newMetrics creates the API's metrics and registers them with reg (when
// not nil).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_admin_requests_total",
			Help: "Admin API requests by route (method and path pattern) and HTTP status.",
		}, []string{"route", "status"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_admin_logins_total",
			Help: "Admin API login attempts by result (success, failure, rate_limited, bad_request).",
		}, []string{"result"}),
	}
	for _, r := range []string{loginSuccess, loginFailure, loginRateLimited, loginBadRequest} {
		m.logins.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.logins} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("admin: register metrics (one API per registry): %w", err)
		}
	}
	return m, nil
}
