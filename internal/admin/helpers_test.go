package admin

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"github.com/dgp-proxy/dgp/internal/testutil"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
)

const testPassword = "correct horse battery staple"

// memIAM is an in-memory IAM: it applies ops to a configdb.Store with
// generation+1, as the syncer does without a sync bucket. Setting fail
// makes Publish return that error instead (to inject sync failures).
type memIAM struct {
	store *configdb.Store
	now   func() time.Time

	mu   sync.Mutex
	fail error
	ops  []string
}

var _ IAM = (*memIAM)(nil)

func newMemIAM(now func() time.Time) *memIAM {
	return &memIAM{store: configdb.NewStore(nil), now: now}
}

func (m *memIAM) Current() *configdb.State { return m.store.Current() }

func (m *memIAM) Publish(_ context.Context, op configdb.Op) (*configdb.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	cur := m.store.Current()
	next, err := op.Apply(cur, m.now())
	if err != nil {
		return nil, err
	}
	next = next.WithGeneration(cur.Generation() + 1)
	m.store.Swap(next)
	m.ops = append(m.ops, op.Describe())
	return next, nil
}

func (m *memIAM) setFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// fakeSync is a Sync whose answers the test sets.
type fakeSync struct {
	mu     sync.Mutex
	result configsync.PullResult
	err    error
	calls  int
}

func (f *fakeSync) SyncNow(context.Context) (configsync.PullResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.result, f.err
}

func (f *fakeSync) Status() any {
	return map[string]any{"enabled": true, "bucket": "dgp-iam-sync", "generation": 7}
}

// clock is a manual clock; syncBuffer a concurrency-safe log sink.
type (
	clock      = testutil.Clock
	syncBuffer struct{ testutil.LogBuffer }
)

func newClock() *clock { return testutil.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)) }

// lines returns the log lines as JSON objects.
func (b *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

var testKey = []byte("0123456789abcdef0123456789abcdef-session-key")

// harness is one API behind an httptest server.
type harness struct {
	api   *API
	srv   *httptest.Server
	iam   *memIAM
	clock *clock
	logs  *syncBuffer
	reg   *prometheus.Registry
}

// newHarness starts an API over a fresh memIAM; mod adjusts the options.
func newHarness(t testing.TB, mod ...func(*Options)) *harness {
	t.Helper()
	c := newClock()
	h := &harness{iam: newMemIAM(c.Now), clock: c, logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	o := Options{
		IAM:           h.iam,
		CheckPassword: func(p string) bool { return subtle.ConstantTimeCompare([]byte(p), []byte(testPassword)) == 1 },
		SessionKey:    testKey,
		// Tests log in often from one address; TestLoginRateLimit sets
		// its own limit.
		LoginRateLimit: 1000,
		Logger:         zerolog.New(h.logs),
		Registerer:     h.reg,
		Now:            c.Now,
	}
	for _, m := range mod {
		m(&o)
	}
	api, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.api = api
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", api)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

// client is an HTTP client with a cookie jar, like curl -b/-c cookies.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func (h *harness) client(t testing.TB) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: h.srv.URL + Prefix, hc: &http.Client{Jar: jar}}
}

// response is a finished request.
type response struct {
	status int
	header http.Header
	body   []byte
	resp   *http.Response
}

// json decodes the body into v.
func (r *response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// obj decodes the body as a JSON object.
func (r *response) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

// do sends method path with body: nil for none, a string or []byte sent
// as is, anything else encoded as JSON. JSON content type unless ctype
// overrides it.
func (c *client) do(method, path string, body any, ctype ...string) *response {
	c.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
		ct = ""
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	if len(ctype) > 0 {
		ct = ctype[0]
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data, resp: resp}
}

// must sends a request and fails the test unless the status is want.
func (c *client) must(want int, method, path string, body any) *response {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

// login signs in with the bootstrap password.
func (c *client) login() *response {
	c.t.Helper()
	return c.must(http.StatusOK, "POST", "/login", map[string]string{"password": testPassword})
}

// sessionCookie returns the session cookie set by r.
func sessionCookie(t testing.TB, r *response) *http.Cookie {
	t.Helper()
	for _, ck := range r.resp.Cookies() {
		if ck.Name == CookieName {
			return ck
		}
	}
	t.Fatalf("no %s cookie in %v", CookieName, r.header.Values("Set-Cookie"))
	return nil
}

// withToken sends a request carrying the session token explicitly (no jar).
func withToken(t testing.TB, srvURL, method, path, token string) *response {
	t.Helper()
	req, err := http.NewRequest(method, srvURL+Prefix+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: CookieName, Value: token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return &response{status: resp.StatusCode, header: resp.Header, body: data, resp: resp}
}

// wantError fails unless r is an error answer with status and code.
func wantError(t testing.TB, r *response, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	m := r.obj(t)
	if m["error"] != code {
		t.Fatalf("error %v, want %q; body %s", m["error"], code, r.body)
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Fatalf("error answer without message: %s", r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	return m
}

// adminRule is a rule that makes a user an admin.
var adminRule = []map[string]any{{"effect": "Allow", "actions": []string{"admin"}, "resources": []string{"*"}}}

// createUser creates a user through the API and returns its answer.
func (c *client) createUser(body map[string]any) map[string]any {
	c.t.Helper()
	return c.must(http.StatusCreated, "POST", "/users", body).obj(c.t)
}
