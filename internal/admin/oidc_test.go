package admin

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// oidcEnv is an API with OIDC mounted, a fake provider, and two groups:
// admins (admin on *) and readers (read on *). The provider maps
// *@example.com to admins and the "groups" claim value "ops" to readers.
type oidcEnv struct {
	h       *harness
	op      *fakeOP
	prov    iam.AuthProvider
	admins  string
	readers string
}

func newOIDCEnv(t *testing.T, mod ...func(*Options)) *oidcEnv {
	t.Helper()
	h := newHarness(t, mod...)
	e := &oidcEnv{h: h, op: newFakeOP(t, h.clock.Now)}
	h.api.MountOIDC(OIDCOptions{HTTPClient: e.op.srv.Client()})
	e.admins = e.publishGroup(t, "oidc-admins", iam.ActionAdmin)
	e.readers = e.publishGroup(t, "oidc-readers", iam.ActionRead)
	op := configdb.NewCreateProvider(iam.AuthProvider{
		Name: "fake", Type: "oidc", IssuerURL: e.op.issuer(), ClientID: e.op.clientID, ClientSecret: e.op.secret,
		Scopes: []string{"openid", "email", "profile"}, Enabled: true, DisplayName: "Fake IdP",
		GroupMappings: []iam.GroupMapping{
			{Email: "*@example.com", Groups: []string{e.admins}},
			{Claim: "groups", Value: "ops", Groups: []string{e.readers}},
		},
	})
	e.publish(t, op)
	e.prov = op.Provider
	e.op.addUser("alice", map[string]any{"email": "alice@example.com", "email_verified": true}, nil)
	e.op.addUser("bob", nil, map[string]any{"email": "bob@example.com", "email_verified": true}) // email from userinfo only
	e.op.addUser("carol", map[string]any{"email": "carol@other.org", "groups": []string{"ops"}}, nil)
	e.op.addUser("dave", nil, nil)
	return e
}

func (e *oidcEnv) publish(t *testing.T, op configdb.Op) {
	t.Helper()
	if _, err := e.h.iam.Publish(context.Background(), op); err != nil {
		t.Fatalf("%s: %v", op.Describe(), err)
	}
}

func (e *oidcEnv) publishGroup(t *testing.T, name string, action iam.Action) string {
	t.Helper()
	op := configdb.NewCreateGroup(name, "", []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{action}, Resources: []string{"*"}}}, nil)
	e.publish(t, op)
	return op.ID
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each step's Location is checked.
func (e *oidcEnv) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get GETs u and returns the response (body read and closed).
func get(t *testing.T, c *http.Client, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// redirect GETs u and returns where the browser goes next: the Location
// of a 302, or the target of the signed-in page (a 200 HTML page that
// refreshes at once).
func redirect(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, body := get(t, c, u)
	switch resp.StatusCode {
	case http.StatusFound:
		return resp.Header.Get("Location")
	case http.StatusOK:
		m := refreshTarget.FindSubmatch(body)
		if m == nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("GET %s: a 200 that is not the signed-in page: %v %s", u, resp.Header, body)
		}
		return html.UnescapeString(string(m[1]))
	}
	t.Fatalf("GET %s: status %d, want 302 or the signed-in page; body %s", u, resp.StatusCode, body)
	return ""
}

var refreshTarget = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]*)">`)

func (e *oidcEnv) loginURL(id string) string { return e.h.srv.URL + Prefix + "/oidc/" + id + "/login" }

// start begins a sign-in and returns the provider's authorization URL.
func (e *oidcEnv) start(t *testing.T, c *http.Client) string {
	t.Helper()
	return redirect(t, c, e.loginURL(e.prov.ID))
}

// signIn runs a whole sign-in as sub and returns where it lands.
func (e *oidcEnv) signIn(t *testing.T, c *http.Client, sub string) string {
	t.Helper()
	return redirect(t, c, e.op.authorize(e.start(t, c), sub))
}

// session returns the claims of c's session cookie, or ok false.
func (e *oidcEnv) session(t *testing.T, c *http.Client) (claims, bool) {
	t.Helper()
	u, _ := url.Parse(e.h.srv.URL + Prefix + "/")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == CookieName {
			cl, err := e.h.api.parse(ck.Value)
			return cl, err == nil
		}
	}
	return claims{}, false
}

func (e *oidcEnv) whoami(t *testing.T, c *http.Client) (int, map[string]any) {
	t.Helper()
	resp, body := get(t, c, e.h.srv.URL+Prefix+"/whoami")
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m
}

func TestOIDCSignIn(t *testing.T) {
	e := newOIDCEnv(t)
	for _, tc := range []struct{ sub, name string }{
		{"alice", "alice@example.com"}, // email in the ID token
		{"bob", "bob@example.com"},     // email merged from userinfo
	} {
		t.Run(tc.sub, func(t *testing.T) {
			c := e.browser(t)
			if got := e.signIn(t, c, tc.sub); got != guiHome {
				t.Fatalf("landed on %q, want %q", got, guiHome)
			}
			cl, ok := e.session(t, c)
			if !ok {
				t.Fatal("no valid session cookie")
			}
			wantID := "oidc:" + e.prov.ID + ":" + tc.sub
			if cl.Identity != wantID || cl.Provider != e.prov.ID || cl.Name != tc.name || !slices.Equal(cl.Groups, []string{e.admins}) {
				t.Errorf("session claims %+v", cl)
			}
			status, who := e.whoami(t, c)
			if status != http.StatusOK || who["identity"] != wantID || who["kind"] != "oidc" || who["name"] != tc.name ||
				who["provider"] != e.prov.ID {
				t.Errorf("whoami: %d %v", status, who)
			}
		})
	}
	logs := e.h.logs.String()
	if !strings.Contains(logs, `"method":"oidc"`) || !strings.Contains(logs, "admin login") {
		t.Errorf("no login log line: %s", logs)
	}
	for _, secret := range []string{e.op.secret, "eyJ"} { // the client secret, any JWT
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q: %s", secret, logs)
		}
	}
}

func TestOIDCReturnPath(t *testing.T) {
	e := newOIDCEnv(t)
	for ret, want := range map[string]string{
		"/_/ui/fleet?x=1":                             "/_/ui/fleet?x=1",
		"https://evil.example/":                       guiHome,
		"//evil.example/_/ui/":                        guiHome,
		"/_/ui/../../etc/passwd":                      guiHome,
		"/_/ui//evil.example":                         guiHome,
		"/_/ui/" + strings.Repeat("x", maxReturnPath): guiHome,
	} {
		c := e.browser(t)
		auth := redirect(t, c, e.loginURL(e.prov.ID)+"?return="+url.QueryEscape(ret))
		if got := redirect(t, c, e.op.authorize(auth, "alice")); got != want {
			t.Errorf("return %q: landed on %q, want %q", ret, got, want)
		}
	}
}

// TestOIDCFlowCookie: the login sets a short-lived, HttpOnly, SameSite=Lax
// cookie scoped to the OIDC paths, and the redirect URL is derived from
// the request unless the provider sets one.
func TestOIDCFlowCookie(t *testing.T) {
	e := newOIDCEnv(t)
	c := e.browser(t)
	resp, _ := get(t, c, e.loginURL(e.prov.ID))
	var flow *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == flowCookieName {
			flow = ck
		}
	}
	if flow == nil {
		t.Fatal("no flow cookie")
	}
	if !flow.HttpOnly || flow.SameSite != http.SameSiteLaxMode || flow.Path != Prefix+"/oidc/" ||
		flow.MaxAge != int(DefaultOIDCFlowTTL.Seconds()) {
		t.Errorf("flow cookie %+v", flow)
	}
	auth, _ := url.Parse(resp.Header.Get("Location"))
	if got, want := auth.Query().Get("redirect_uri"), e.h.srv.URL+Prefix+"/oidc/callback"; got != want {
		t.Errorf("derived redirect_uri %q, want %q", got, want)
	}

	set := "https://dgp.example.com" + iam.OIDCCallbackPath
	e.publish(t, &configdb.UpdateProvider{ID: e.prov.ID, RedirectURL: &set})
	auth, _ = url.Parse(redirect(t, c, e.loginURL(e.prov.ID)))
	if got := auth.Query().Get("redirect_uri"); got != set {
		t.Errorf("redirect_uri %q, want the provider's %q", got, set)
	}
}

// signInWith is a refusal case: the provider misbehaves as knobs say while
// user signs in.
func signInWith(knobs fakeKnobs, user string) func(t *testing.T, e *oidcEnv, c *http.Client) string {
	return func(t *testing.T, e *oidcEnv, c *http.Client) string {
		e.op.setKnobs(knobs)
		return e.signIn(t, c, user)
	}
}

// TestOIDCRefused: every way a sign-in fails lands on the sign-in page
// with its error code, sets no session, and logs why.
func TestOIDCRefused(t *testing.T) {
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		code string
		// run does the sign-in its way and returns the final Location.
		run func(t *testing.T, e *oidcEnv, c *http.Client) string
	}{
		{"tampered state", oidcErrState, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			cb := e.op.authorize(e.start(t, c), "alice")
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Set("state", q.Get("state")+"x")
			u.RawQuery = q.Encode()
			return redirect(t, c, u.String())
		}},
		{"tampered flow cookie", oidcErrState, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			cb := e.op.authorize(e.start(t, c), "alice")
			u, _ := url.Parse(e.h.srv.URL + Prefix + "/oidc/")
			for _, ck := range c.Jar.Cookies(u) {
				if ck.Name == flowCookieName {
					head, sig, _ := strings.Cut(ck.Value, ".")
					payload, sig, _ := strings.Cut(sig, ".")
					b := []byte(payload)
					b[5] ^= 1
					c.Jar.SetCookies(u, []*http.Cookie{{Name: flowCookieName, Value: head + "." + string(b) + "." + sig, Path: Prefix + "/oidc/"}})
				}
			}
			return redirect(t, c, cb)
		}},
		{"callback in another browser", oidcErrState, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			cb := e.op.authorize(e.start(t, c), "alice")
			return redirect(t, e.browser(t), cb)
		}},
		{"expired flow", oidcErrState, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			cb := e.op.authorize(e.start(t, c), "alice")
			e.h.clock.Advance(DefaultOIDCFlowTTL + time.Second)
			return redirect(t, c, cb)
		}},
		{"replayed callback", oidcErrState, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			cb := e.op.authorize(e.start(t, c), "alice")
			if got := redirect(t, c, cb); got != guiHome {
				t.Fatalf("first callback landed on %q", got)
			}
			c.Jar, _ = cookiejar.New(nil) // signed out, the flow cookie gone
			return redirect(t, c, cb)
		}},
		{"nonce mismatch", oidcErrNonce, signInWith(fakeKnobs{nonce: "someone-elses-nonce"}, "alice")},
		{"foreign signature", oidcErrFailed, signInWith(fakeKnobs{signer: otherKey}, "alice")},
		{"wrong audience", oidcErrFailed, signInWith(fakeKnobs{audience: "another-client"}, "alice")},
		{"expired id token", oidcErrFailed, signInWith(fakeKnobs{expired: true}, "alice")},
		{"userinfo of another subject", oidcErrFailed, signInWith(fakeKnobs{uiSub: "mallory"}, "bob")},
		{"provider answered an error", oidcErrFailed, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			auth, _ := url.Parse(e.start(t, c))
			q := url.Values{"error": {"access_denied"}, "state": {auth.Query().Get("state")}}
			return redirect(t, c, e.h.srv.URL+Prefix+"/oidc/callback?"+q.Encode())
		}},
		{"code refused (PKCE verifier of another flow)", oidcErrFailed, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			cb := e.op.authorize(e.start(t, c), "alice")
			e.start(t, c) // a second login replaces the flow cookie...
			u, _ := url.Parse(cb)
			q := u.Query()
			auth2, _ := url.Parse(e.start(t, c)) // ...with a third flow, whose state we use
			q.Set("state", auth2.Query().Get("state"))
			u.RawQuery = q.Encode()
			return redirect(t, c, u.String())
		}},
		{"mapped to groups without admin", oidcErrDenied, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			return e.signIn(t, c, "carol")
		}},
		{"unmapped", oidcErrDenied, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			return e.signIn(t, c, "dave")
		}},
		{"unverified email", oidcErrDenied, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			e.op.addUser("eve", map[string]any{"email": "eve@example.com", "email_verified": false}, nil)
			return e.signIn(t, c, "eve")
		}},
		{"unknown provider", oidcErrProvider, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			return redirect(t, c, e.loginURL("no-such-provider"))
		}},
		{"disabled provider", oidcErrProvider, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			off := false
			e.publish(t, &configdb.UpdateProvider{ID: e.prov.ID, Enabled: &off})
			return redirect(t, c, e.loginURL(e.prov.ID))
		}},
		{"provider disabled during the sign-in", oidcErrProvider, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			cb := e.op.authorize(e.start(t, c), "alice")
			off := false
			e.publish(t, &configdb.UpdateProvider{ID: e.prov.ID, Enabled: &off})
			return redirect(t, c, cb)
		}},
		{"issuer unreachable", oidcErrFailed, func(t *testing.T, e *oidcEnv, c *http.Client) string {
			bad := "http://127.0.0.1:1/"
			e.publish(t, &configdb.UpdateProvider{ID: e.prov.ID, IssuerURL: &bad})
			return redirect(t, c, e.loginURL(e.prov.ID))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newOIDCEnv(t)
			c := e.browser(t)
			got := tc.run(t, e, c)
			if want := guiLogin + "?error=" + tc.code; got != want {
				t.Fatalf("landed on %q, want %q", got, want)
			}
			if _, ok := e.session(t, c); ok {
				t.Error("a session cookie was set")
			}
			if status, _ := e.whoami(t, c); status != http.StatusUnauthorized {
				t.Errorf("whoami: %d, want 401", status)
			}
			var failed map[string]any
			for _, l := range e.h.logs.lines(t) {
				if l["message"] == "admin login failed" && l["method"] == "oidc" {
					failed = l
				}
			}
			if failed == nil || failed["result"] != tc.code || failed["reason"] == nil {
				t.Errorf("no failure log line with result %s and a reason: %s", tc.code, e.h.logs.String())
			} else {
				t.Logf("logged reason: %v", failed["reason"])
			}
			if logs := e.h.logs.String(); strings.Contains(logs, e.op.secret) || strings.Contains(logs, "eyJ") {
				t.Errorf("the log holds a secret or a token: %s", logs)
			}
		})
	}
}

// TestOIDCSessionRechecked: an OIDC session lasts only while its provider
// is enabled and its groups grant admin (checked on every request, from
// the current config DB), and while neither it nor its identity is revoked.
func TestOIDCSessionRechecked(t *testing.T) {
	for name, change := range map[string]func(t *testing.T, e *oidcEnv){
		"admin rule removed from the group": func(t *testing.T, e *oidcEnv) {
			rules := []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionRead}, Resources: []string{"*"}}}
			e.publish(t, &configdb.UpdateGroup{ID: e.admins, Permissions: &rules})
		},
		"group deleted": func(t *testing.T, e *oidcEnv) {
			e.publish(t, &configdb.DeleteGroup{ID: e.admins})
		},
		"provider disabled": func(t *testing.T, e *oidcEnv) {
			off := false
			e.publish(t, &configdb.UpdateProvider{ID: e.prov.ID, Enabled: &off})
		},
		"provider deleted": func(t *testing.T, e *oidcEnv) {
			e.publish(t, &configdb.DeleteProvider{ID: e.prov.ID})
		},
		"identity revoked": func(t *testing.T, e *oidcEnv) {
			e.h.clock.Advance(time.Second)
			e.publish(t, &configdb.RevokeSessions{Identity: "oidc:" + e.prov.ID + ":alice", Since: e.h.clock.Now()})
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newOIDCEnv(t)
			c := e.browser(t)
			if got := e.signIn(t, c, "alice"); got != guiHome {
				t.Fatalf("landed on %q", got)
			}
			if status, body := e.whoami(t, c); status != http.StatusOK {
				t.Fatalf("whoami before: %d %v", status, body)
			}
			change(t, e)
			if status, body := e.whoami(t, c); status != http.StatusUnauthorized {
				t.Fatalf("whoami after: %d, want 401 (%v)", status, body)
			}
		})
	}
}

// TestOIDCSessionForged: the session's provider claim must name the
// identity's provider.
func TestOIDCSessionForged(t *testing.T) {
	e := newOIDCEnv(t)
	st := e.h.iam.Current()
	c := e.h.api.newClaims("oidc:"+e.prov.ID+":alice", "")
	c.Groups = []string{e.admins}
	for name, mod := range map[string]func(*claims){
		"provider claim differs": func(c *claims) { c.Provider = "other" },
		"no subject":             func(c *claims) { c.Provider = e.prov.ID; c.Identity = "oidc:" + e.prov.ID + ":" },
		"no admin group":         func(c *claims) { c.Provider = e.prov.ID; c.Groups = []string{e.readers} },
	} {
		cc := c
		mod(&cc)
		if _, err := e.h.api.authenticateToken(e.h.api.sign(cc), st); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c.Provider = e.prov.ID
	if _, err := e.h.api.authenticateToken(e.h.api.sign(c), st); err != nil {
		t.Errorf("well-formed session refused: %v", err)
	}
}

func TestOIDCProvidersList(t *testing.T) {
	e := newOIDCEnv(t)
	e.publish(t, configdb.NewCreateProvider(iam.AuthProvider{Name: "a-second", Type: "oidc", IssuerURL: "https://idp.example.com",
		ClientID: "x", Enabled: true, Priority: -1}))
	e.publish(t, configdb.NewCreateProvider(iam.AuthProvider{Name: "b-disabled", Type: "oidc", IssuerURL: "https://idp.example.com",
		ClientID: "x", Enabled: false}))
	e.publish(t, configdb.NewCreateProvider(iam.AuthProvider{Name: "c-saml", Type: "saml", Enabled: true}))
	resp, body := get(t, e.browser(t), e.h.srv.URL+Prefix+"/oidc/providers") // no session
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got []oidcProviderEntry
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "a-second" || got[1].Name != "fake" {
		t.Fatalf("providers %s", body)
	}
	if got[1].DisplayName != "Fake IdP" || got[0].DisplayName != "a-second" || got[1].LoginURL != Prefix+"/oidc/"+e.prov.ID+"/login" {
		t.Errorf("entries %+v", got)
	}
	if strings.Contains(string(body), e.op.secret) || strings.Contains(string(body), "client") {
		t.Errorf("the public list shows client details: %s", body)
	}
}

// TestOIDCDiscoveryCached: discovery is fetched once per issuer within the
// TTL, and again after it.
func TestOIDCDiscoveryCached(t *testing.T) {
	c := newClock()
	op := newFakeOP(t, c.Now)
	var fetches int
	counting := op.srv.Client()
	base := counting.Transport
	counting.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/openid-configuration") {
			fetches++
		}
		return base.RoundTrip(r)
	})
	d := newDiscoveryCache(counting, time.Minute, c.Now)
	for range 3 {
		if _, err := d.get(context.Background(), op.issuer()); err != nil {
			t.Fatal(err)
		}
	}
	if fetches != 1 {
		t.Errorf("%d fetches within the TTL, want 1", fetches)
	}
	c.Advance(time.Minute)
	if _, err := d.get(context.Background(), op.issuer()); err != nil {
		t.Fatal(err)
	}
	if fetches != 2 {
		t.Errorf("%d fetches after the TTL, want 2", fetches)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestOIDCCallbackOnAnotherInstance: the sign-in keeps no state on the
// instance, so the callback may land on another instance of the fleet
// (same session key, same config DB), as behind a load balancer.
func TestOIDCCallbackOnAnotherInstance(t *testing.T) {
	e := newOIDCEnv(t)
	other := newHarness(t, func(o *Options) { o.IAM = e.h.iam; o.Now = e.h.clock.Now })
	other.api.MountOIDC(OIDCOptions{HTTPClient: e.op.srv.Client()})
	c := e.browser(t)
	cb, _ := url.Parse(e.op.authorize(e.start(t, c), "alice"))
	cb.Host = strings.TrimPrefix(other.srv.URL, "http://") // cookies ignore the port
	if got := redirect(t, c, cb.String()); got != guiHome {
		t.Fatalf("landed on %q", got)
	}
	if status, who := e.whoami(t, c); status != http.StatusOK || who["identity"] != "oidc:"+e.prov.ID+":alice" {
		t.Errorf("whoami on the first instance: %d %v", status, who)
	}
}
