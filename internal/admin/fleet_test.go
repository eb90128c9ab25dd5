package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configsync"
)

// cannedFleet answers the fleet view and sync-now targets the test sets.
type cannedFleet struct {
	self    string
	urls    map[string]string // node -> advertised URL ("" none)
	viewErr error
}

func (f cannedFleet) View(context.Context) (any, error) {
	if f.viewErr != nil {
		return nil, f.viewErr
	}
	return map[string]any{"bucket_generation": 3, "instances": []any{map[string]any{"node": f.self}}}, nil
}

func (f cannedFleet) Target(_ context.Context, node string) (bool, string, error) {
	switch {
	case node == f.self:
		return true, "", nil
	case node == "intruder":
		return false, "", fmt.Errorf("%w: intruder", ErrFleetUnverified)
	case node == "broken":
		return false, "", errors.New("sync bucket: connection refused")
	}
	u, ok := f.urls[node]
	if !ok {
		return false, "", fmt.Errorf("%w: %q", ErrFleetUnknownNode, node)
	}
	return false, u, nil
}

func TestFleetView(t *testing.T) {
	h := newHarness(t)
	h.api.MountFleet(cannedFleet{self: "a"})
	c := h.client(t)
	wantError(t, c.do("GET", "/fleet", nil), http.StatusUnauthorized, "unauthenticated")
	c.login()
	got := c.must(http.StatusOK, "GET", "/fleet", nil).obj(t)
	if got["bucket_generation"] != float64(3) {
		t.Fatalf("view: %v", got)
	}

	h2 := newHarness(t)
	h2.api.MountFleet(cannedFleet{self: "a", viewErr: errors.New("bucket down")})
	c2 := h2.client(t)
	c2.login()
	wantError(t, c2.do("GET", "/fleet", nil), http.StatusServiceUnavailable, "fleet_unavailable")
}

// sync-now for the local node pulls locally; for another node it is sent
// to that node's advertised URL with the caller's session (valid on every
// instance: same session key); a node without a URL is explained.
func TestFleetSyncNow(t *testing.T) {
	localSync := &fakeSync{result: configsync.PullResult{Status: "current", Generation: 3}}
	a := newHarness(t, func(o *Options) { o.Sync = localSync })
	remoteSync := &fakeSync{result: configsync.PullResult{Downloaded: true, Status: "updated", Generation: 4, ETag: "e4"}}
	b := newHarness(t, func(o *Options) { o.Sync = remoteSync })
	var sawCookie atomic.Bool
	// In front of b: records that the session cookie came along.
	spy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := r.Cookie(CookieName)
		sawCookie.Store(err == nil)
		b.srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(spy.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	a.api.MountFleet(cannedFleet{self: "a", urls: map[string]string{
		"b": spy.URL + "/", "quiet": "", "dead": deadURL, "weird": "ftp://x",
	}})
	c := a.client(t)
	wantError(t, c.do("POST", "/fleet/b/sync-now", nil), http.StatusUnauthorized, "unauthenticated")
	if syncCalls(remoteSync) != 0 {
		t.Fatal("an unauthenticated sync-now was proxied")
	}
	c.login()

	got := c.must(http.StatusOK, "POST", "/fleet/a/sync-now", nil).obj(t)
	if got["status"] != "current" || syncCalls(localSync) != 1 {
		t.Errorf("local sync-now: %v (local calls %d)", got, syncCalls(localSync))
	}

	r := c.must(http.StatusOK, "POST", "/fleet/b/sync-now", nil)
	got = r.obj(t)
	if got["status"] != "updated" || got["generation"] != float64(4) || syncCalls(remoteSync) != 1 || !sawCookie.Load() {
		t.Errorf("proxied sync-now: %v (remote calls %d, cookie %v)", got, syncCalls(remoteSync), sawCookie.Load())
	}
	if r.header.Get("X-Dgp-Fleet-Node") != "b" {
		t.Errorf("answer does not name the node: %v", r.header)
	}

	msg := wantError(t, c.do("POST", "/fleet/quiet/sync-now", nil), http.StatusConflict, "no_admin_url")
	if s, _ := msg["message"].(string); !strings.Contains(s, "advanced.advertise_url") || !strings.Contains(s, "DGP_ADVERTISE_URL") {
		t.Errorf("409 does not say how to fix it: %v", msg)
	}
	wantError(t, c.do("POST", "/fleet/weird/sync-now", nil), http.StatusConflict, "no_admin_url")
	wantError(t, c.do("POST", "/fleet/dead/sync-now", nil), http.StatusBadGateway, "instance_unreachable")
	wantError(t, c.do("POST", "/fleet/nobody/sync-now", nil), http.StatusNotFound, "not_found")
	wantError(t, c.do("POST", "/fleet/intruder/sync-now", nil), http.StatusConflict, "unverified_status")
	wantError(t, c.do("POST", "/fleet/broken/sync-now", nil), http.StatusServiceUnavailable, "fleet_unavailable")
	if syncCalls(localSync) != 1 || syncCalls(remoteSync) != 1 {
		t.Errorf("refused requests reached a syncer: local %d, remote %d", syncCalls(localSync), syncCalls(remoteSync))
	}

	// A remote refusal is answered as the remote answered it: b without a
	// session for this caller says 401.
	b2 := newHarness(t, func(o *Options) {
		o.SessionKey = []byte("another-fleet-session-key-0123456789")
		o.Sync = remoteSync
	})
	a2 := newHarness(t)
	a2.api.MountFleet(cannedFleet{self: "a", urls: map[string]string{"other": b2.srv.URL}})
	c2 := a2.client(t)
	c2.login()
	wantError(t, c2.do("POST", "/fleet/other/sync-now", nil), http.StatusUnauthorized, "unauthenticated")
	if syncCalls(remoteSync) != 1 {
		t.Errorf("a session of another fleet pulled: %d calls", syncCalls(remoteSync))
	}
}

func syncCalls(f *fakeSync) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}
