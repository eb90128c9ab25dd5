// Package admin is dgp's admin JSON API, served under /_/api/admin/:
// sign-in with signed session cookies valid on every instance of a fleet,
// IAM users, groups and auth providers (every change published through the
// config sync), and the config sync controls (sync-now, sync-status).
//
// The API reads the current IAM snapshot and publishes changes through two
// small interfaces declared here (IAM, Sync); it knows nothing about the
// sync bucket. See docs/admin-api.md for the wire contract.
package admin

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

// Prefix is the path under which the API serves. Mount the API on
// Prefix+"/" without stripping it: mux.Handle(admin.Prefix+"/", api).
const Prefix = "/_/api/admin"

// CookieName is the name of the session cookie.
const CookieName = "dgp_session"

// Defaults of Options.
const (
	DefaultSessionTTL     = 4 * time.Hour
	DefaultLoginRateLimit = 10 // attempts per minute per client IP
	// NoLoginRateLimit as Options.LoginRateLimit turns the limit off.
	NoLoginRateLimit = -1
	// MaxBodyBytes is the largest request body accepted.
	MaxBodyBytes = 1 << 20
	// DefaultBodyReadTimeout is how long a request body may send nothing
	// before the request is answered 400 request_timeout.
	DefaultBodyReadTimeout = 20 * time.Second
	// MinSessionKeyLen is the shortest SessionKey New accepts.
	MinSessionKeyLen = 32
	// maxTrackedClients bounds the login rate limiter's per-IP table.
	maxTrackedClients = 10000
)

// IAM is what the API needs from the IAM state: the current snapshot and a
// way to apply and publish one change.
type IAM interface {
	// Current returns the current snapshot; never nil.
	Current() *configdb.State
	// Publish applies op and publishes the result, returning the new
	// snapshot. Errors wrap configdb.ErrNotFound, ErrConflict, ErrInvalid
	// (a *iam.FieldError) or configsync.ErrReadOnly, ErrMidUpgrade,
	// ErrUnavailable.
	Publish(ctx context.Context, op configdb.Op) (*configdb.State, error)
}

// Sync is what the API needs from the config syncer.
type Sync interface {
	// Refresher's SyncNow pulls the config DB from the sync bucket now
	// (configsync.ErrDisabled when sync is off).
	Refresher
	// Status describes the sync state; JSON-encodable.
	Status() any
}

// Options configure an API.
type Options struct {
	// IAM is the IAM state (required).
	IAM IAM
	// Sync is the config syncer; nil makes the sync endpoints answer 404
	// sync_disabled.
	Sync Sync
	// Refresh is pulled once before answering that a referenced entity
	// does not exist (see Refresher); nil means Sync, when set.
	Refresh Refresher
	// BodyReadTimeout is how long a request body may send nothing before
	// the request is answered 400 request_timeout (0 means
	// DefaultBodyReadTimeout; negative, never).
	BodyReadTimeout time.Duration
	// CheckPassword reports whether a password is the bootstrap password
	// (constant-time; required).
	CheckPassword func(password string) bool
	// SessionKey signs session tokens (HMAC-SHA256). Every instance of a
	// fleet must use the same key so a session works on all of them. At
	// least MinSessionKeyLen bytes.
	SessionKey []byte
	// SessionTTL is how long a session lasts (default DefaultSessionTTL).
	SessionTTL time.Duration
	// LoginRateLimit is the number of login attempts allowed per minute per
	// client IP (0: DefaultLoginRateLimit; NoLoginRateLimit: no limit). The
	// same number bounds the failed OIDC sign-in steps (login redirects and
	// callbacks) per minute per client IP, counted apart.
	LoginRateLimit int
	// SecureCookies marks the session cookie Secure (set it under TLS).
	SecureCookies bool
	// Declarative refuses every IAM mutation with 403 iam_declarative
	// (IAM comes from the config file); reads still work.
	Declarative bool
	// WriterURL is the writer's URL, named when a reader refuses a change.
	WriterURL string
	// Logger receives one line per mutation and per failed login.
	Logger zerolog.Logger
	// Registerer receives the API's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// API is the admin API. It is an http.Handler for paths under Prefix and
// is safe for concurrent use.
type API struct {
	iam           IAM
	sync          Sync
	checkPassword func(string) bool
	sessionKey    []byte
	ttl           time.Duration
	secure        bool
	declarative   bool
	writerURL     string
	log           zerolog.Logger
	now           func() time.Time
	limiter       *limiter // password and key logins: every attempt; nil: no limit
	oidcLimiter   *limiter // OIDC sign-ins: only the failed ones (see oidcFlow.admit); nil: no limit
	metrics       *metrics
	mux           *http.ServeMux
	gate          *pullGate // nil: nothing to pull from
	bodyWait      time.Duration
}

var _ http.Handler = (*API)(nil)

// New returns an API configured by o.
func New(o Options) (*API, error) {
	switch {
	case o.IAM == nil:
		return nil, errors.New("admin: Options.IAM is required")
	case o.CheckPassword == nil:
		return nil, errors.New("admin: Options.CheckPassword is required")
	case len(o.SessionKey) < MinSessionKeyLen:
		return nil, errors.New("admin: Options.SessionKey must be at least 32 bytes")
	case o.SessionTTL < 0:
		return nil, errors.New("admin: Options.SessionTTL must not be negative")
	case o.LoginRateLimit < NoLoginRateLimit:
		return nil, errors.New("admin: Options.LoginRateLimit must be NoLoginRateLimit, 0 (the default) or more")
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.LoginRateLimit == 0 {
		o.LoginRateLimit = DefaultLoginRateLimit
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Refresh == nil && o.Sync != nil {
		o.Refresh = o.Sync
	}
	switch {
	case o.BodyReadTimeout == 0:
		o.BodyReadTimeout = DefaultBodyReadTimeout
	case o.BodyReadTimeout < 0:
		o.BodyReadTimeout = 0
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	a := &API{
		iam:           o.IAM,
		sync:          o.Sync,
		checkPassword: o.CheckPassword,
		sessionKey:    append([]byte(nil), o.SessionKey...),
		ttl:           o.SessionTTL,
		secure:        o.SecureCookies,
		declarative:   o.Declarative,
		writerURL:     o.WriterURL,
		log:           o.Logger.With().Str("component", "admin").Logger(),
		now:           o.Now,
		metrics:       m,
		mux:           http.NewServeMux(),
		bodyWait:      o.BodyReadTimeout,
	}
	if o.LoginRateLimit != NoLoginRateLimit {
		a.limiter = newLimiter(o.LoginRateLimit, time.Minute, maxTrackedClients)
		a.oidcLimiter = newLimiter(o.LoginRateLimit, time.Minute, maxTrackedClients)
	}
	if o.Refresh != nil {
		a.gate = &pullGate{r: o.Refresh}
	}
	a.routes()
	return a, nil
}

// routes registers every endpoint. Labels (the pattern without Prefix) are
// the route label of dgp_admin_requests_total.
func (a *API) routes() {
	a.handle("POST /login", a.login)
	a.handle("POST /logout", a.logout)
	a.handle("GET /whoami", a.authed(read, a.whoami))

	a.handle("GET /users", a.authed(read, a.listUsers))
	a.handle("POST /users", a.authed(mutate, a.createUser))
	a.handle("GET /users/{id}", a.authed(read, a.getUser))
	a.handle("PUT /users/{id}", a.authed(mutate, a.updateUser))
	a.handle("DELETE /users/{id}", a.authed(mutate, a.deleteUser))
	a.handle("POST /users/{id}/rotate-keys", a.authed(mutate, a.rotateKeys))

	a.handle("GET /groups", a.authed(read, a.listGroups))
	a.handle("POST /groups", a.authed(mutate, a.createGroup))
	a.handle("GET /groups/{id}", a.authed(read, a.getGroup))
	a.handle("PUT /groups/{id}", a.authed(mutate, a.updateGroup))
	a.handle("DELETE /groups/{id}", a.authed(mutate, a.deleteGroup))
	a.handle("POST /groups/{id}/members", a.authed(mutate, a.addMember))
	a.handle("DELETE /groups/{id}/members/{user_id}", a.authed(mutate, a.removeMember))

	a.handle("GET /auth-providers", a.authed(read, a.listProviders))
	a.handle("POST /auth-providers", a.authed(mutate, a.createProvider))
	a.handle("GET /auth-providers/{id}", a.authed(read, a.getProvider))
	a.handle("PUT /auth-providers/{id}", a.authed(mutate, a.updateProvider))
	a.handle("DELETE /auth-providers/{id}", a.authed(mutate, a.deleteProvider))

	a.handle("POST /config/sync-now", a.authed(read, a.syncNow))
	a.handle("GET /config/sync-status", a.authed(read, a.syncStatus))

	// read, not mutate: signing out is no IAM change (declarative mode too).
	a.handle("POST /sessions/revoke-all", a.authed(read, a.revokeAll))
}

// handle registers h for "METHOD /path" under Prefix, counting requests.
func (a *API) handle(route string, h errHandler) {
	method, path, _ := strings.Cut(route, " ")
	a.mux.Handle(method+" "+Prefix+path, a.serve(route, h))
}

// ServeHTTP implements http.Handler. Paths that match no endpoint get a
// JSON 404 (or 405 with Allow when only the method is wrong).
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w, r, done := a.guardBody(w, r)
	defer done()
	// A JSON API has no use for the mux's path-cleaning redirects: a 307
	// keeps the method, so a client would DELETE "a/b" for the key "a//b".
	if c := path.Clean(r.URL.Path); c != r.URL.Path && c+"/" != r.URL.Path {
		writeError(w, &apiError{Status: http.StatusBadRequest, Code: "bad_path",
			Message: "the path has empty, '.' or '..' segments: name such object keys with ?key="})
		a.metrics.requests.WithLabelValues("unmatched", statusLabel(http.StatusBadRequest)).Inc()
		return
	}
	if _, pattern := a.mux.Handler(r); pattern != "" {
		a.mux.ServeHTTP(w, r)
		return
	}
	// Let the mux decide between 404, 405 and a path-cleaning redirect,
	// then answer in JSON.
	rec := &headerRecorder{header: http.Header{}}
	a.mux.ServeHTTP(rec, r)
	sw := &statusWriter{ResponseWriter: w}
	switch status := rec.status; {
	case status >= 300 && status < 400:
		if loc := rec.header.Get("Location"); loc != "" {
			sw.Header().Set("Location", loc)
		}
		sw.WriteHeader(status)
	case status == http.StatusMethodNotAllowed:
		sw.Header().Set("Allow", rec.header.Get("Allow"))
		writeError(sw, &apiError{Status: status, Code: "method_not_allowed",
			Message: "method " + r.Method + " is not allowed on " + r.URL.Path})
	default:
		writeError(sw, &apiError{Status: http.StatusNotFound, Code: "not_found",
			Message: "no admin API endpoint at " + r.URL.Path})
	}
	a.metrics.requests.WithLabelValues("unmatched", statusLabel(sw.Status())).Inc()
}

// headerRecorder captures the status and headers the mux would send for an
// unmatched request; the body is discarded.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
func (h *headerRecorder) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}
