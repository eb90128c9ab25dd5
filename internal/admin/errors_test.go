package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
)

// route is one endpoint with a body that would be accepted.
type route struct {
	method, path string
	body         any
	mutates      bool
}

// allRoutes returns every endpoint (except login and logout), with paths
// naming existing entities of seedEntities.
func allRoutes() []route {
	rule := []map[string]any{{"effect": "Allow", "actions": []string{"read"}, "resources": []string{"b/*"}}}
	return []route{
		{"GET", "/whoami", nil, false},
		{"GET", "/users", nil, false},
		{"POST", "/users", map[string]any{"name": "newuser", "permissions": rule}, true},
		{"GET", "/users/u1", nil, false},
		{"PUT", "/users/u1", map[string]any{"enabled": false}, true},
		{"POST", "/users/u1/rotate-keys", nil, true},
		{"DELETE", "/users/u2", nil, true},
		{"GET", "/groups", nil, false},
		{"POST", "/groups", map[string]any{"name": "newgroup"}, true},
		{"GET", "/groups/g1", nil, false},
		{"PUT", "/groups/g1", map[string]any{"description": "d"}, true},
		{"POST", "/groups/g1/members", map[string]any{"user_id": "u1"}, true},
		{"DELETE", "/groups/g1/members/u1", nil, true},
		{"DELETE", "/groups/g2", nil, true},
		{"GET", "/auth-providers", nil, false},
		{"POST", "/auth-providers", map[string]any{"name": "newprov"}, true},
		{"GET", "/auth-providers/p1", nil, false},
		{"PUT", "/auth-providers/p1", map[string]any{"priority": 1}, true},
		{"DELETE", "/auth-providers/p1", nil, true},
		{"GET", "/config/sync-status", nil, false},
		{"POST", "/config/sync-now", nil, false},
	}
}

// seedEntities creates users u1, u2, groups g1, g2 and provider p1.
func seedEntities(t *testing.T, c *client) {
	t.Helper()
	c.createUser(map[string]any{"name": "u1"})
	c.createUser(map[string]any{"name": "u2"})
	c.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "g1"})
	c.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "g2"})
	c.must(http.StatusCreated, "POST", "/auth-providers", map[string]any{"name": "p1"})
}

func TestEveryRouteNeedsASession(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Sync = &fakeSync{} })
	c := h.client(t)
	for _, rt := range allRoutes() {
		wantError(t, c.do(rt.method, rt.path, rt.body), http.StatusUnauthorized, "unauthenticated")
	}
	if n := h.iam.Current().NumUsers(); n != 0 {
		t.Fatalf("unauthenticated requests changed the state: %d users", n)
	}
}

func TestEveryRouteWorks(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Sync = &fakeSync{} })
	c := h.client(t)
	c.login()
	seedEntities(t, c)
	for _, rt := range allRoutes() {
		r := c.do(rt.method, rt.path, rt.body)
		if r.status < 200 || r.status > 299 {
			t.Fatalf("%s %s: %d %s", rt.method, rt.path, r.status, r.body)
		}
	}
}

func TestDeclarativeRefusesMutations(t *testing.T) {
	// Build the entities in GUI mode, then serve the same state declaratively.
	gui := newHarness(t)
	gc := gui.client(t)
	gc.login()
	seedEntities(t, gc)
	before := gui.iam.Current().Generation()

	h := newHarness(t, func(o *Options) { o.IAM = gui.iam; o.Declarative = true; o.Sync = &fakeSync{} })
	c := h.client(t)
	c.login() // signing in is not an IAM change
	for _, rt := range allRoutes() {
		r := c.do(rt.method, rt.path, rt.body)
		if rt.mutates {
			wantError(t, r, http.StatusForbidden, "iam_declarative")
			continue
		}
		if r.status != http.StatusOK {
			t.Fatalf("read %s %s in declarative mode: %d %s", rt.method, rt.path, r.status, r.body)
		}
	}
	if g := gui.iam.Current().Generation(); g != before {
		t.Fatalf("declarative mode changed the state: generation %d -> %d", before, g)
	}
}

func TestPublishErrorMapping(t *testing.T) {
	cases := []struct {
		err       error
		writerURL string
		status    int
		code      string
		message   string
	}{
		{fmt.Errorf("publish: %w", configsync.ErrReadOnly), "https://dgp-writer:9000", 409, "read_only_replica", "https://dgp-writer:9000"},
		{configsync.ErrReadOnly, "", 409, "read_only_replica", "writer"},
		{fmt.Errorf("publish: %w", configsync.ErrMidUpgrade), "", 409, "fleet_mid_upgrade", "upgrade"},
		{fmt.Errorf("publish: put: %w", configsync.ErrUnavailable), "", 503, "sync_unavailable", "not made"},
		{fmt.Errorf("publish: put: %w", configsync.ErrOutcomeUnknown), "", 503, "sync_outcome_unknown", "may have been made"},
		// Even wrapped together with ErrUnavailable, never "not made".
		{fmt.Errorf("publish: %w: %w", configsync.ErrOutcomeUnknown, configsync.ErrUnavailable), "", 503, "sync_outcome_unknown", "read the state before retrying"},
		{errors.New("disk on fire"), "", 500, "internal", "internal error"},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.WriterURL = tc.writerURL })
			c := h.client(t)
			c.login()
			seedEntities(t, c)
			h.iam.setFail(tc.err)
			for _, rt := range allRoutes() {
				if !rt.mutates {
					continue
				}
				m := wantError(t, c.do(rt.method, rt.path, rt.body), tc.status, tc.code)
				if !strings.Contains(m["message"].(string), tc.message) {
					t.Fatalf("%s %s: message %q lacks %q", rt.method, rt.path, m["message"], tc.message)
				}
				if tc.writerURL != "" && m["writer_url"] != tc.writerURL {
					t.Fatalf("writer_url %v", m["writer_url"])
				}
			}
			if strings.Contains(string(c.must(http.StatusOK, "GET", "/users", nil).body), "newuser") {
				t.Fatal("a refused mutation changed the state")
			}

			// Logout still clears the cookie, and says the session lives on.
			r := c.must(http.StatusOK, "POST", "/logout", nil)
			m := r.obj(t)
			if m["revoked"] != false || !strings.Contains(m["message"].(string), "could not be revoked") {
				t.Fatalf("logout answer %v", m)
			}
			if ck := sessionCookie(t, r); ck.MaxAge >= 0 {
				t.Fatalf("cookie not cleared: %+v", ck)
			}
			wantError(t, c.do("GET", "/whoami", nil), http.StatusUnauthorized, "unauthenticated")
		})
	}
}

func TestSyncEndpoints(t *testing.T) {
	t.Run("sync off", func(t *testing.T) {
		h := newHarness(t)
		c := h.client(t)
		c.login()
		wantError(t, c.do("POST", "/config/sync-now", nil), http.StatusNotFound, "sync_disabled")
		wantError(t, c.do("GET", "/config/sync-status", nil), http.StatusNotFound, "sync_disabled")
	})
	t.Run("syncer says disabled", func(t *testing.T) {
		h := newHarness(t, func(o *Options) { o.Sync = &fakeSync{err: configsync.ErrDisabled} })
		c := h.client(t)
		c.login()
		wantError(t, c.do("POST", "/config/sync-now", nil), http.StatusNotFound, "sync_disabled")
	})
	t.Run("bucket fails", func(t *testing.T) {
		h := newHarness(t, func(o *Options) {
			o.Sync = &fakeSync{err: fmt.Errorf("pull: %w: dial tcp 127.0.0.1:1: connection refused", configsync.ErrUnavailable)}
		})
		c := h.client(t)
		c.login()
		m := wantError(t, c.do("POST", "/config/sync-now", nil), http.StatusBadGateway, "sync_failed")
		if !strings.Contains(m["message"].(string), "connection refused") {
			t.Fatalf("cause missing: %v", m)
		}
	})
	t.Run("pull", func(t *testing.T) {
		fs := &fakeSync{result: configsync.PullResult{Downloaded: true, ETag: `"abc"`, Generation: 42, Status: "updated"}}
		h := newHarness(t, func(o *Options) { o.Sync = fs })
		c := h.client(t)
		c.login()
		// As the seed guide sends it: POST, no body, no content type.
		m := c.must(http.StatusOK, "POST", "/config/sync-now", nil).obj(t)
		if m["downloaded"] != true || m["etag"] != `"abc"` || m["generation"] != float64(42) || m["status"] != "updated" {
			t.Fatalf("sync-now answer %v", m)
		}
		if fs.calls != 1 {
			t.Fatalf("SyncNow called %d times", fs.calls)
		}
		st := c.must(http.StatusOK, "GET", "/config/sync-status", nil).obj(t)
		if st["bucket"] != "dgp-iam-sync" {
			t.Fatalf("status %v", st)
		}
	})
}

func TestUnmatchedPaths(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	wantError(t, c.do("GET", "/nope", nil), http.StatusNotFound, "not_found")
	wantError(t, c.do("GET", "/users/a/b/c", nil), http.StatusNotFound, "not_found")
	r := c.do("PATCH", "/users", nil)
	wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Fatalf("Allow %q", allow)
	}
	if got := testutil.ToFloat64(h.api.metrics.requests.WithLabelValues("unmatched", "405")); got != 1 {
		t.Fatalf("unmatched 405 counted %v", got)
	}
}

func TestMutationLogAndMetrics(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	u := c.createUser(map[string]any{"name": "logged"})
	wantError(t, c.do("POST", "/users", map[string]any{"name": "logged"}), http.StatusConflict, "conflict")

	var ok, refused []map[string]any
	for _, l := range h.logs.lines(t) {
		switch l["message"] {
		case "iam mutation":
			ok = append(ok, l)
		case "iam mutation refused":
			refused = append(refused, l)
		}
	}
	if len(ok) != 1 || len(refused) != 1 {
		t.Fatalf("mutation lines: %d ok, %d refused; logs:\n%s", len(ok), len(refused), h.logs.String())
	}
	l := ok[0]
	if l["component"] != "admin" || l["identity"] != "admin" || l["ip"] != "127.0.0.1" ||
		!strings.Contains(l["op"].(string), `create user "logged"`) || l["generation"] != float64(1) {
		t.Fatalf("mutation line %v", l)
	}
	if refused[0]["result"] != "conflict" {
		t.Fatalf("refused line %v", refused[0])
	}
	if strings.Contains(h.logs.String(), u["secret_access_key"].(string)) {
		t.Fatal("secret logged")
	}

	if got := testutil.ToFloat64(h.api.metrics.requests.WithLabelValues("POST /users", "201")); got != 1 {
		t.Fatalf("POST /users 201 counted %v", got)
	}
	if got := testutil.ToFloat64(h.api.metrics.requests.WithLabelValues("POST /users", "409")); got != 1 {
		t.Fatalf("POST /users 409 counted %v", got)
	}
	if got := testutil.ToFloat64(h.api.metrics.logins.WithLabelValues(loginSuccess)); got != 1 {
		t.Fatalf("logins %v", got)
	}
	n, err := testutil.GatherAndCount(h.reg, "dgp_admin_requests_total", "dgp_admin_logins_total")
	if err != nil || n == 0 {
		t.Fatalf("metrics not registered: %d, %v", n, err)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	ok := func(string) bool { return true }
	im := newMemIAM(newClock().Now)
	cases := []struct {
		name string
		o    Options
	}{
		{"no IAM", Options{CheckPassword: ok, SessionKey: testKey}},
		{"no password check", Options{IAM: im, SessionKey: testKey}},
		{"short key", Options{IAM: im, CheckPassword: ok, SessionKey: []byte("short")}},
		{"negative TTL", Options{IAM: im, CheckPassword: ok, SessionKey: testKey, SessionTTL: -1}},
		{"negative rate", Options{IAM: im, CheckPassword: ok, SessionKey: testKey, LoginRateLimit: -2}},
	}
	for _, tc := range cases {
		if _, err := New(tc.o); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Options{IAM: im, CheckPassword: ok, SessionKey: testKey, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{IAM: im, CheckPassword: ok, SessionKey: testKey, Registerer: reg}); err == nil {
		t.Fatal("second API on one registry: metrics registered twice without error")
	}
}

// panicIAM panics on Publish, as a buggy dependency might.
type panicIAM struct{ *memIAM }

func (p panicIAM) Publish(context.Context, configdb.Op) (*configdb.State, error) { panic("boom") }

func TestPanicBecomes500(t *testing.T) {
	h := newHarness(t)
	h2 := newHarness(t, func(o *Options) { o.IAM = panicIAM{h.iam}; o.Logger = zerolog.New(h.logs) })
	c := h2.client(t)
	c.login()
	wantError(t, c.do("POST", "/users", map[string]any{"name": "x"}), http.StatusInternalServerError, "internal")
	if !strings.Contains(h.logs.String(), "admin handler panicked") {
		t.Fatal("panic not logged")
	}
	c.must(http.StatusOK, "GET", "/users", nil) // the server lives on
}
