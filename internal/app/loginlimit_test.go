//go:build integration

package app

import (
	"net/http"
	"testing"

	"github.com/dgp-proxy/dgp/internal/config"
)

// TestLoginRateLimitConfig: access.login_rate_limit reaches the admin API,
// and 0 turns the limit off as the configuration reference says.
func TestLoginRateLimitConfig(t *testing.T) {
	bad := map[string]string{"password": "not the password"}
	for _, tc := range []struct {
		limit    int
		attempts int
		last     int // status of the last attempt
	}{
		{limit: 2, attempts: 3, last: http.StatusTooManyRequests},
		{limit: 0, attempts: config.DefaultLoginRateLimit + 1, last: http.StatusUnauthorized}, // the default would refuse the last
	} {
		in := startInstance(t, nil, func(c *config.Config) { c.Access.LoginRateLimit = tc.limit })
		c := in.admin(t)
		for i := 1; i <= tc.attempts; i++ {
			want := http.StatusUnauthorized
			if i == tc.attempts {
				want = tc.last
			}
			if got := c.do(http.MethodPost, "/login", bad, nil); got != want {
				t.Fatalf("login_rate_limit %d, attempt %d: status %d, want %d", tc.limit, i, got, want)
			}
		}
	}
}
