package admin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// withCode returns the callback URL cb with its code replaced.
func withCode(t *testing.T, cb, code string) string {
	t.Helper()
	u, err := url.Parse(cb)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("code", code)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestOIDCRateLimit: failed OIDC sign-in steps from one address are
// limited to LoginRateLimit a minute, checked before any request to the
// provider; sign-ins that succeed never count.
func TestOIDCRateLimit(t *testing.T) {
	const limit = 3
	e := newOIDCEnv(t, func(o *Options) { o.LoginRateLimit = limit })
	rateLimited := guiLogin + "?error=" + oidcErrRateLimited

	// Twice the limit of successful sign-ins: none is refused.
	for i := range 2 * limit {
		if got := e.signIn(t, e.browser(t), "alice"); got != guiHome {
			t.Fatalf("sign-in %d landed on %q, want %q", i+1, got, guiHome)
		}
	}

	// limit+1 sign-ins started (each its own browser), their callbacks
	// then sent with a code the provider never issued.
	browsers := make([]*http.Client, limit+1)
	callbacks := make([]string, limit+1)
	for i := range browsers {
		browsers[i] = e.browser(t)
		callbacks[i] = withCode(t, e.op.authorize(e.start(t, browsers[i]), "alice"), "bogus")
	}
	calls := e.op.tokenCalls()
	for i := range limit {
		if got := redirect(t, browsers[i], callbacks[i]); got != guiLogin+"?error="+oidcErrFailed {
			t.Fatalf("bogus callback %d landed on %q, want oidc_failed", i+1, got)
		}
	}
	// (oauth2 tries a refused exchange twice: client credentials in the
	// header, then in the body.)
	if got := e.op.tokenCalls(); got < calls+limit {
		t.Fatalf("token endpoint called %d times for %d bogus callbacks", got-calls, limit)
	}
	calls = e.op.tokenCalls()
	// The budget is spent: the next callback is refused before the code
	// exchange, and so is a new sign-in.
	resp, _ := get(t, browsers[limit], callbacks[limit])
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != rateLimited {
		t.Fatalf("callback over the limit: %d to %q, want 302 to %q", resp.StatusCode, resp.Header.Get("Location"), rateLimited)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "20" { // one attempt refills every 60 s / 3
		t.Errorf("Retry-After %q, want 20", ra)
	}
	if got := e.op.tokenCalls(); got != calls {
		t.Fatal("the token endpoint was called over the limit")
	}
	if _, ok := e.session(t, browsers[limit]); ok {
		t.Fatal("a session was set over the limit")
	}
	if got := redirect(t, e.browser(t), e.loginURL(e.prov.ID)); got != rateLimited {
		t.Fatalf("login over the limit landed on %q, want %q", got, rateLimited)
	}
	if got := testutil.ToFloat64(e.h.api.metrics.logins.WithLabelValues(loginRateLimited)); got != 2 {
		t.Errorf("rate_limited logins %v, want 2", got)
	}
	if !strings.Contains(e.h.logs.String(), `"method":"oidc","message":"admin login rate limited"`) {
		t.Errorf("no rate-limited log line: %s", e.h.logs.String())
	}
	// Password logins are counted apart.
	e.h.client(t).login()

	// One attempt refills in 20 s: a sign-in succeeds, and gives its
	// attempts back, so a second one does too.
	e.h.clock.Advance(20 * time.Second)
	for i := range 2 {
		if got := e.signIn(t, e.browser(t), "alice"); got != guiHome {
			t.Fatalf("sign-in %d after the refill landed on %q", i+1, got)
		}
	}
	// That attempt is the only one: a failure spends it.
	if got := redirect(t, e.browser(t), e.loginURL("no-such-provider")); got != guiLogin+"?error="+oidcErrProvider {
		t.Fatalf("unknown provider: %q", got)
	}
	if got := redirect(t, e.browser(t), e.loginURL(e.prov.ID)); got != rateLimited {
		t.Fatalf("login after the refilled attempt was spent landed on %q, want %q", got, rateLimited)
	}
}

func TestLimiterRefund(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(2, time.Minute, 10)
	// spendAll spends the whole budget of 2 and checks a third attempt is
	// refused.
	spendAll := func(when string) {
		t.Helper()
		for range 2 {
			if ok, _ := l.allow("a", now); !ok {
				t.Fatalf("%s: refused within the budget", when)
			}
		}
		if ok, _ := l.allow("a", now); ok {
			t.Fatalf("%s: allowed over the budget", when)
		}
	}
	l.refund("a", now) // nothing spent: nothing to give back, nothing tracked
	if l.size() != 0 {
		t.Fatalf("refund of an unknown client tracked it")
	}
	spendAll("first")
	l.refund("a", now)
	if ok, _ := l.allow("a", now); !ok {
		t.Fatal("refunded attempt refused")
	}
	// Refunds never give more than the budget: the client is forgotten
	// once full.
	for range 5 {
		l.refund("a", now)
	}
	if l.size() != 0 {
		t.Fatal("a client with a full budget is still tracked")
	}
	spendAll("after the refunds")
}
