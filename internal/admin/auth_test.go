package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

func TestLoginWhoamiLogout(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)

	wantError(t, c.do("GET", "/whoami", nil), http.StatusUnauthorized, "unauthenticated")

	login := c.login().obj(t)
	if login["identity"] != "admin" || login["kind"] != "admin" {
		t.Fatalf("login answer %v", login)
	}
	who := c.must(http.StatusOK, "GET", "/whoami", nil).obj(t)
	if who["identity"] != "admin" || who["session_id"] != login["session_id"] {
		t.Fatalf("whoami %v, login %v", who, login)
	}
	exp, err := time.Parse(time.RFC3339, who["expires_at"].(string))
	if err != nil || !exp.Equal(h.clock.Now().Add(DefaultSessionTTL)) {
		t.Fatalf("expires_at %v (%v), want now + %v", who["expires_at"], err, DefaultSessionTTL)
	}

	out := c.must(http.StatusOK, "POST", "/logout", nil)
	if m := out.obj(t); m["revoked"] != true {
		t.Fatalf("logout answer %v", m)
	}
	if ck := sessionCookie(t, out); ck.MaxAge >= 0 || ck.Value != "" {
		t.Fatalf("logout did not clear the cookie: %+v", ck)
	}
	wantError(t, c.do("GET", "/whoami", nil), http.StatusUnauthorized, "unauthenticated")

	// The revocation is in the state (so every instance enforces it).
	sid := login["session_id"].(string)
	if _, ok := h.iam.Current().RevokedSince("session:" + sid); !ok {
		t.Fatalf("no revocation of session:%s in %v", sid, h.iam.Current().Revocations())
	}
	// Logging out without a session clears the cookie and says so.
	again := c.must(http.StatusOK, "POST", "/logout", nil).obj(t)
	if again["revoked"] != false {
		t.Fatalf("second logout %v", again)
	}
}

func TestRevokedTokenReplayRefused(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	token := sessionCookie(t, c.login()).Value
	if r := withToken(t, h.srv.URL, "GET", "/whoami", token); r.status != http.StatusOK {
		t.Fatalf("fresh token: %d %s", r.status, r.body)
	}
	c.must(http.StatusOK, "POST", "/logout", nil)
	// A copy of the token made before logout is dead too.
	wantError(t, withToken(t, h.srv.URL, "GET", "/whoami", token), http.StatusUnauthorized, "unauthenticated")
}

func TestWrongPassword(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	r := c.do("POST", "/login", map[string]string{"password": "hunter2-wrong"})
	wantError(t, r, http.StatusUnauthorized, "invalid_credentials")
	if len(r.resp.Cookies()) != 0 {
		t.Fatalf("failed login set cookies: %v", r.header.Values("Set-Cookie"))
	}
	wantError(t, c.do("GET", "/whoami", nil), http.StatusUnauthorized, "unauthenticated")
	if got := testutil.ToFloat64(h.api.metrics.logins.WithLabelValues(loginFailure)); got != 1 {
		t.Fatalf("failed logins metric %v", got)
	}
	logs := h.logs.String()
	if strings.Contains(logs, "hunter2-wrong") {
		t.Fatalf("password logged: %s", logs)
	}
	found := false
	for _, l := range h.logs.lines(t) {
		if l["message"] == "admin login failed" && l["ip"] == "127.0.0.1" && l["component"] == "admin" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no failed-login line with the ip: %s", logs)
	}
}

func TestLoginBadRequests(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	cases := []struct {
		name   string
		body   any
		ctype  string
		status int
		code   string
		field  string
	}{
		{"form content type", "password=x", "application/x-www-form-urlencoded", 400, "bad_request", ""},
		{"no content type", `{"password":"x"}`, "-", 400, "bad_request", ""},
		{"malformed", `{"password":`, "", 400, "bad_request", ""},
		{"syntax", `{"password" "x"}`, "", 400, "bad_request", ""},
		{"empty body", "", "", 400, "bad_request", ""},
		{"not an object", `["x"]`, "", 400, "bad_request", ""},
		{"wrong type", `{"password": 12}`, "", 400, "invalid", "password"},
		{"unknown field", `{"password":"x","remember_me":true}`, "", 400, "bad_request", "remember_me"},
		{"two objects", `{"password":"x"}{"password":"y"}`, "", 400, "bad_request", ""},
		{"nothing", `{}`, "", 400, "bad_request", "password"},
		{"both methods", map[string]string{"password": "x", "access_key_id": "AK", "secret_access_key": "s"}, "", 400, "bad_request", "password"},
		{"key without secret", map[string]string{"access_key_id": "AKIAEXAMPLE"}, "", 400, "bad_request", "secret_access_key"},
		{"too large", `{"password":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, "", 413, "body_too_large", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r *response
			switch tc.ctype {
			case "":
				r = c.do("POST", "/login", tc.body)
			case "-":
				r = c.do("POST", "/login", tc.body, "")
			default:
				r = c.do("POST", "/login", tc.body, tc.ctype)
			}
			m := wantError(t, r, tc.status, tc.code)
			if got, _ := m["field"].(string); got != tc.field {
				t.Fatalf("field %q, want %q (%s)", got, tc.field, r.body)
			}
		})
	}
}

func TestLoginRateLimit(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.LoginRateLimit = 3 })
	c := h.client(t)
	bad := map[string]string{"password": "nope"}
	for range 3 {
		wantError(t, c.do("POST", "/login", bad), http.StatusUnauthorized, "invalid_credentials")
	}
	// The fourth attempt within the minute is refused, even with the right
	// password: 3 per minute means one token every 20 s.
	r := c.do("POST", "/login", map[string]string{"password": testPassword})
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
	if got := r.header.Get("Retry-After"); got != "20" {
		t.Fatalf("Retry-After %q, want 20", got)
	}
	if len(r.resp.Cookies()) != 0 {
		t.Fatal("rate-limited login set a cookie")
	}

	// Another client address has its own budget.
	req := httptest.NewRequest("POST", Prefix+"/login", strings.NewReader(`{"password":"`+testPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "192.0.2.7:4242"
	req.Header.Set("X-Forwarded-For", "127.0.0.1") // not trusted either way
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("other address: %d %s", rec.Code, rec.Body)
	}

	h.clock.Advance(19 * time.Second)
	wantError(t, c.do("POST", "/login", bad), http.StatusTooManyRequests, "rate_limited")
	h.clock.Advance(time.Second)
	c.login()
	r = c.do("POST", "/login", bad)
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
	if got := r.header.Get("Retry-After"); got != "20" {
		t.Fatalf("Retry-After %q, want 20", got)
	}
	if got := testutil.ToFloat64(h.api.metrics.logins.WithLabelValues(loginRateLimited)); got != 3 {
		t.Fatalf("rate_limited logins %v, want 3", got)
	}
	if got := testutil.ToFloat64(h.api.metrics.logins.WithLabelValues(loginSuccess)); got != 2 {
		t.Fatalf("successful logins %v, want 2", got)
	}
}

func TestLimiterBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(2, time.Minute, 3)
	for _, ip := range []string{"a", "b", "c"} {
		if ok, _ := l.allow(ip, now); !ok {
			t.Fatalf("%s refused", ip)
		}
		now = now.Add(time.Second)
	}
	// Full: "a" is the least recently seen and goes.
	if ok, _ := l.allow("d", now); !ok || l.size() != 3 {
		t.Fatalf("d: ok=%v size=%d", ok, l.size())
	}
	if _, kept := l.clients["a"]; kept {
		t.Fatal("least recently seen client was not evicted")
	}
	// "b" exhausts its budget; it is remembered while not refilled.
	if ok, _ := l.allow("b", now); !ok {
		t.Fatal("b second attempt refused")
	}
	// b spent its first attempt at 1 s, its second at 3 s: one refills at
	// 1 s + 30 s, 28 s from now.
	if ok, wait := l.allow("b", now); ok || wait != 28*time.Second {
		t.Fatalf("b third attempt: ok=%v wait=%v, want refused for 28s", ok, wait)
	}
	// After a minute everyone has refilled: a new client evicts them all.
	now = now.Add(2 * time.Minute)
	if ok, _ := l.allow("e", now); !ok || l.size() != 1 {
		t.Fatalf("e: ok=%v size=%d, want refilled clients forgotten", ok, l.size())
	}
	// A clock going backwards refills nothing.
	l.allow("e", now)
	if ok, _ := l.allow("e", now.Add(-time.Hour)); ok {
		t.Fatal("backwards clock refilled the bucket")
	}
}

func TestCookieAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		h := newHarness(t, func(o *Options) { o.SecureCookies = secure; o.SessionTTL = time.Hour })
		c := h.client(t)
		r := c.do("POST", "/login", map[string]string{"password": testPassword})
		if r.status != http.StatusOK {
			t.Fatalf("login: %d", r.status)
		}
		ck := sessionCookie(t, r)
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure != secure {
			t.Fatalf("secure=%v: cookie %+v", secure, ck)
		}
		if ck.MaxAge != 3600 {
			t.Fatalf("MaxAge %d, want 3600", ck.MaxAge)
		}
		raw := r.header.Get("Set-Cookie")
		if strings.Contains(raw, "Secure") != secure {
			t.Fatalf("secure=%v: Set-Cookie %q", secure, raw)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("login answer cacheable: %v", r.header)
		}
	}
}

func TestSessionAcrossInstances(t *testing.T) {
	a := newHarness(t, func(o *Options) { o.SessionTTL = time.Hour })
	// B shares A's IAM state (as a synced fleet does) and session key.
	b := newHarness(t, func(o *Options) { o.IAM = a.iam; o.Now = a.clock.Now })
	other := newHarness(t, func(o *Options) {
		o.IAM = a.iam
		o.Now = a.clock.Now
		o.SessionKey = []byte("another-fleet-another-key-0123456789abcdef")
	})

	token := sessionCookie(t, a.client(t).login()).Value
	if r := withToken(t, b.srv.URL, "GET", "/users", token); r.status != http.StatusOK {
		t.Fatalf("instance B refused A's session: %d %s", r.status, r.body)
	}
	wantError(t, withToken(t, other.srv.URL, "GET", "/users", token), http.StatusUnauthorized, "unauthenticated")

	// Tampering with the claims breaks the signature.
	parts := strings.Split(token, ".")
	forged := parts[0] + "." + parts[1] + "x." + parts[2]
	wantError(t, withToken(t, b.srv.URL, "GET", "/whoami", forged), http.StatusUnauthorized, "unauthenticated")
	for _, junk := range []string{"", "v1", "v1..", "v2." + parts[1] + "." + parts[2], token + ".x", strings.Repeat("a", 5000)} {
		wantError(t, withToken(t, b.srv.URL, "GET", "/whoami", junk), http.StatusUnauthorized, "unauthenticated")
	}

	// Expiry after the TTL (A's TTL is in the token; B honours it).
	a.clock.Advance(time.Hour - time.Millisecond)
	if r := withToken(t, b.srv.URL, "GET", "/whoami", token); r.status != http.StatusOK {
		t.Fatalf("session ended early: %d", r.status)
	}
	a.clock.Advance(time.Millisecond)
	wantError(t, withToken(t, a.srv.URL, "GET", "/whoami", token), http.StatusUnauthorized, "unauthenticated")
	wantError(t, withToken(t, b.srv.URL, "GET", "/whoami", token), http.StatusUnauthorized, "unauthenticated")
}

func TestLogoutOnOneInstanceRevokesEverywhere(t *testing.T) {
	a := newHarness(t)
	b := newHarness(t, func(o *Options) { o.IAM = a.iam; o.Now = a.clock.Now })
	ca := a.client(t)
	token := sessionCookie(t, ca.login()).Value
	if r := withToken(t, b.srv.URL, "GET", "/whoami", token); r.status != http.StatusOK {
		t.Fatalf("B: %d", r.status)
	}
	ca.must(http.StatusOK, "POST", "/logout", nil)
	wantError(t, withToken(t, b.srv.URL, "GET", "/whoami", token), http.StatusUnauthorized, "unauthenticated")
}

func TestIdentityRevocation(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	h.clock.Advance(time.Second)
	// E.g. the bootstrap password changed: every admin session issued so
	// far is revoked.
	if _, err := h.iam.Publish(context.Background(), &configdb.RevokeSessions{Identity: "admin"}); err != nil {
		t.Fatal(err)
	}
	wantError(t, c.do("GET", "/whoami", nil), http.StatusUnauthorized, "unauthenticated")
	h.clock.Advance(time.Second)
	c.login()
	c.must(http.StatusOK, "GET", "/whoami", nil)
}

func TestUserLogin(t *testing.T) {
	h := newHarness(t)
	adm := h.client(t)
	adm.login()

	boss := adm.createUser(map[string]any{"name": "boss", "permissions": adminRule})
	reader := adm.createUser(map[string]any{"name": "reader", "permissions": []map[string]any{
		{"effect": "Allow", "actions": []string{"*"}, "resources": []string{"photos/*"}}}})
	grp := adm.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "admins", "permissions": adminRule}).obj(t)
	member := adm.createUser(map[string]any{"name": "member", "group_ids": []string{"admins"}})
	denied := adm.createUser(map[string]any{"name": "denied", "group_ids": []string{grp["id"].(string)},
		"permissions": []map[string]any{{"effect": "Deny", "actions": []string{"*"}, "resources": []string{"*"}}}})
	off := adm.createUser(map[string]any{"name": "off", "enabled": false, "permissions": adminRule})

	keys := func(u map[string]any) map[string]string {
		return map[string]string{"access_key_id": u["access_key_id"].(string), "secret_access_key": u["secret_access_key"].(string)}
	}
	cases := []struct {
		name   string
		body   map[string]string
		status int
		code   string
	}{
		{"admin rule on *", keys(boss), 200, ""},
		{"admin through a group", keys(member), 200, ""},
		{"no admin rule", keys(reader), 403, "not_admin"},
		{"deny beats the group's allow", keys(denied), 403, "not_admin"},
		{"disabled", keys(off), 401, "invalid_credentials"},
		{"wrong secret", map[string]string{"access_key_id": boss["access_key_id"].(string), "secret_access_key": "wrong-secret-000"}, 401, "invalid_credentials"},
		{"unknown key", map[string]string{"access_key_id": "AKNOBODY", "secret_access_key": "whatever-secret"}, 401, "invalid_credentials"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.client(t).do("POST", "/login", tc.body)
			if tc.code != "" {
				wantError(t, r, tc.status, tc.code)
				return
			}
			if r.status != tc.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		})
	}

	// A user session dies when the user is deleted, disabled, loses admin,
	// or has its keys rotated.
	userSession := func(t *testing.T, u map[string]any) *client {
		c := h.client(t)
		who := c.must(http.StatusOK, "POST", "/login", keys(u)).obj(t)
		if who["identity"] != "user:"+u["id"].(string) || who["kind"] != "user" || who["user_name"] != u["name"] {
			t.Fatalf("login answer %v", who)
		}
		c.must(http.StatusOK, "GET", "/whoami", nil)
		return c
	}
	mutations := []struct {
		name string
		do   func(id string)
	}{
		{"user deleted", func(id string) { adm.must(http.StatusNoContent, "DELETE", "/users/"+id, nil) }},
		{"keys rotated", func(id string) { adm.must(http.StatusOK, "POST", "/users/"+id+"/rotate-keys", nil) }},
		{"user disabled", func(id string) { adm.must(http.StatusOK, "PUT", "/users/"+id, map[string]any{"enabled": false}) }},
		{"admin removed", func(id string) {
			adm.must(http.StatusOK, "PUT", "/users/"+id, map[string]any{"permissions": []any{}})
		}},
	}
	for _, m := range mutations {
		t.Run("session ends when "+m.name, func(t *testing.T) {
			u := adm.createUser(map[string]any{"name": "victim-" + strings.ReplaceAll(m.name, " ", "-"), "permissions": adminRule})
			c := userSession(t, u)
			m.do(u["id"].(string))
			wantError(t, c.do("GET", "/whoami", nil), http.StatusUnauthorized, "unauthenticated")
		})
	}
	// An IAM admin can administer: create a user with its session.
	c := userSession(t, boss)
	c.createUser(map[string]any{"name": "made-by-boss"})
	if !strings.Contains(h.logs.String(), "user:"+boss["id"].(string)+" (boss)") {
		t.Fatal("mutation by a user session not logged with the user")
	}
}

func TestStaleCookieBesideValidOne(t *testing.T) {
	h := newHarness(t)
	token := sessionCookie(t, h.client(t).login()).Value
	req, err := http.NewRequest("GET", h.srv.URL+Prefix+"/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: CookieName, Value: "v1.stale.token"})
	req.AddCookie(&http.Cookie{Name: CookieName, Value: token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d with a stale cookie before the valid one", resp.StatusCode)
	}
}
