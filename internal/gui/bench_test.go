package gui_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/admin"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/gui"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// The GUI's latency with a config DB of 10,000 users: its pages (each asks
// the admin API's whoami in-process), a script, and the users page's API
// calls (first page, a later page, a search), over loopback HTTP with a
// signed-in session — as a browser asks them.
//
//	go test -run '^$' -bench . -benchtime 2000x ./internal/gui/
//	go test -run TestLatencyP99 -v ./internal/gui/     (prints p50/p99)

const benchUsers = 10_000

// staticIAM is a read-only admin.IAM holding one state.
type staticIAM struct{ st *configdb.State }

func (s staticIAM) Current() *configdb.State { return s.st }
func (s staticIAM) Publish(context.Context, configdb.Op) (*configdb.State, error) {
	return nil, errors.New("read-only benchmark state")
}

type benchEnv struct {
	srv    *httptest.Server
	hc     *http.Client
	middle string // a user name in the middle of the list
}

func newBenchEnv(tb testing.TB) *benchEnv {
	tb.Helper()
	users, groups := testutil.BigIAM(benchUsers, 20)
	st, err := configdb.NewState(1, configdb.Data{Users: users, Groups: groups})
	if err != nil {
		tb.Fatal(err)
	}
	api, err := admin.New(admin.Options{
		IAM:            staticIAM{st},
		CheckPassword:  func(p string) bool { return p == "bench-password" },
		SessionKey:     []byte(strings.Repeat("k", 32)),
		LoginRateLimit: 1000,
	})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(admin.Prefix+"/", api)
	h, err := gui.New(gui.Options{Sessions: mux})
	if err != nil {
		tb.Fatal(err)
	}
	h.Register(mux)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	e := &benchEnv{srv: srv, hc: &http.Client{Jar: jar}}
	resp, err := e.hc.Post(srv.URL+admin.Prefix+"/login", "application/json", strings.NewReader(`{"password":"bench-password"}`))
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("login: %s", resp.Status)
	}
	names := make([]string, len(users))
	for i, u := range users {
		names[i] = u.Name
	}
	slices.Sort(names)
	e.middle = names[len(names)/2]
	return e
}

// get fetches path and fails unless it answers 200 with a body.
func (e *benchEnv) get(tb testing.TB, path string) {
	resp, err := e.hc.Get(e.srv.URL + path)
	if err != nil {
		tb.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || n == 0 {
		tb.Fatalf("GET %s: %s (%d bytes)", path, resp.Status, n)
	}
}

func (e *benchEnv) cases() []struct{ name, path string } {
	return []struct{ name, path string }{
		{"page_dashboard", gui.UIPrefix},
		{"page_users", gui.UIPrefix + "users"},
		{"page_fleet", gui.UIPrefix + "fleet"},
		{"page_login", gui.LoginPath},
		{"static_users_js", gui.StaticPath + "users.js"},
		{"api_users_first_page", admin.Prefix + "/users?limit=50"},
		{"api_users_middle_page", admin.Prefix + "/users?limit=50&after=" + e.middle},
		{"api_users_search", admin.Prefix + "/users?limit=50&q=user-0099"},
	}
}

func BenchmarkGUI10kUsers(b *testing.B) {
	e := newBenchEnv(b)
	for _, c := range e.cases() {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.get(b, c.path)
			}
		})
	}
}

// TestLatencyP99 measures each request's latency n times and logs p50 and
// p99 (a measurement, not an assertion: the machines are shared).
func TestLatencyP99(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	e := newBenchEnv(t)
	const n = 500
	for _, c := range e.cases() {
		for range 20 { // warm up
			e.get(t, c.path)
		}
		lat := make([]time.Duration, n)
		for i := range lat {
			start := time.Now()
			e.get(t, c.path)
			lat[i] = time.Since(start)
		}
		slices.Sort(lat)
		t.Logf("%-24s n=%d p50=%-10v p99=%-10v max=%v", c.name, n, lat[n/2].Round(time.Microsecond),
			lat[n*99/100].Round(time.Microsecond), lat[n-1].Round(time.Microsecond))
	}
}
