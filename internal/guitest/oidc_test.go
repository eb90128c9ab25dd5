//go:build integration

package guitest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/testharness/adminclient"
	"github.com/dgp-proxy/dgp/internal/testharness/browser"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
	"github.com/dgp-proxy/dgp/internal/testharness/oidcprovider"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// oidcSetup is a running dgp instance and a real OIDC provider (its own
// program) configured as an auth provider of dgp through the admin API.
type oidcSetup struct {
	dgp        string // base URL
	provider   *oidcprovider.Provider
	providerID string
	logs       *testutil.LogBuffer
}

// The people of the provider: alice is in its "dgp-admins" group, which
// the mapping gives dgp's oidc-admins group (admin on *); bob has no groups
// and an address outside the mapped domain.
var (
	alice = oidcprovider.User{ID: "u-alice", Username: "alice", Password: "alice-password", Email: "alice@example.com",
		EmailVerified: true, FirstName: "Alice", LastName: "Admin", Groups: []string{"dgp-admins"}}
	bob = oidcprovider.User{ID: "u-bob", Username: "bob", Password: "bob-password", Email: "bob@elsewhere.org",
		EmailVerified: true, FirstName: "Bob", LastName: "Nobody"}
)

func startOIDC(t *testing.T) *oidcSetup {
	t.Helper()
	ctx := context.Background()
	s := &oidcSetup{logs: &testutil.LogBuffer{}}
	in, err := dgpfleet.Start(ctx, dgpfleet.Spec{DataDir: t.TempDir(), Logger: zerolog.New(s.logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("dgp log:\n%s", s.logs.String())
		}
	})
	// The browser reaches dgp as localhost and the provider as 127.0.0.1:
	// two sites, as in production, so SameSite rules apply as they would.
	s.dgp = strings.Replace(in.URL(), "://127.0.0.1:", "://localhost:", 1)
	s.provider = oidcprovider.New(t, oidcprovider.Options{
		Users:        []oidcprovider.User{alice, bob},
		RedirectURIs: []string{s.dgp + "/_/api/admin/oidc/callback"},
	})

	api := adminclient.New(t, adminclient.API(s.dgp), 30*time.Second)
	api.Login(s.dgp)
	var group struct{ ID string }
	api.Must(http.StatusCreated, "POST", "/groups", map[string]any{
		"name":        "oidc-admins",
		"permissions": []map[string]any{{"effect": "Allow", "actions": []string{"admin"}, "resources": []string{"*"}}},
	}, &group)
	var prov struct {
		ID           string `json:"id"`
		ClientSecret string `json:"client_secret"`
	}
	api.Must(http.StatusCreated, "POST", "/auth-providers", map[string]any{
		"name": "test-idp", "type": "oidc", "display_name": "Test IdP",
		"issuer_url": s.provider.Issuer, "client_id": s.provider.ClientID, "client_secret": s.provider.ClientSecret,
		"scopes": []string{"openid", "email", "profile"}, "redirect_url": s.dgp + "/_/api/admin/oidc/callback",
		"group_mappings": []map[string]any{{"claim": "groups", "value": "dgp-admins", "groups": []string{group.ID}}},
	}, &prov)
	if prov.ClientSecret == s.provider.ClientSecret {
		t.Errorf("the API shows the client secret")
	}
	s.providerID = prov.ID
	return s
}

// loginURL is the sign-in button's target.
func (s *oidcSetup) loginURL() string { return s.dgp + "/_/api/admin/oidc/" + s.providerID + "/login" }

// signInAt drives the browser through the provider's login form as u and
// returns the URL it lands on back at dgp. With viaButton it starts at the
// GUI's sign-in page and clicks the provider's button, else it opens the
// button's target (the OIDC login endpoint) directly.
func (s *oidcSetup) signInAt(t *testing.T, ctx context.Context, u oidcprovider.User, viaButton bool) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	start := chromedp.Navigate(s.loginURL())
	if viaButton {
		button := chromedp.CSS(`a.oidc-login[data-provider="test-idp"]`)
		start = chromedp.Steps(
			chromedp.Navigate(s.dgp+"/_/ui/login"),
			chromedp.WaitVisible(button),
			chromedp.Click(button),
		)
	}
	if err := chromedp.Do(sctx, start, chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("to the provider's login page: %v", err)
	}
	at, _ := chromedp.Run(sctx, chromedp.Location())
	if !strings.HasPrefix(at, s.provider.Issuer) {
		t.Fatalf("login page at %s, not at the provider %s", at, s.provider.Issuer)
	}
	err := chromedp.Do(sctx,
		chromedp.SendKeys(chromedp.ID("username"), u.Username),
		chromedp.SendKeys(chromedp.ID("password"), u.Password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	)
	if err != nil {
		t.Fatalf("submit the provider's login form: %v", err)
	}
	// Wait until the browser is back at dgp (past the callback).
	var loc string
	for {
		loc, err = chromedp.Run(sctx, chromedp.Location())
		if err == nil && strings.HasPrefix(loc, s.dgp+"/_/ui/") {
			return loc
		}
		select {
		case <-sctx.Done():
			t.Fatalf("the browser never came back to dgp's GUI: last at %q (%v)", loc, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// whoami asks the admin API from the page, with the browser's cookies.
func whoami(t *testing.T, ctx context.Context) (int, map[string]any) {
	t.Helper()
	var res struct {
		Status int            `json:"status"`
		Body   map[string]any `json:"body"`
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`fetch("/_/api/admin/whoami", {credentials: "same-origin"}).then(
		async r => ({status: r.status, body: await r.json()}))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("whoami from the page: %v", err)
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("whoami answer %s: %v", raw, err)
	}
	return res.Status, res.Body
}

// sessionCookie returns dgp's session cookie in the browser, if any.
func sessionCookie(t *testing.T, ctx context.Context, base string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/_/api/admin/whoami"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "dgp_session" {
			return c
		}
	}
	return nil
}

// rewrite makes the browser send the requests whose URL matches pattern
// (Fetch domain wildcards) to the URL edit returns instead, until the test
// ends: what a person tampering with the redirects would do.
func rewrite(t *testing.T, ctx context.Context, pattern string, edit func(u *url.URL)) {
	t.Helper()
	lctx, cancel := context.WithCancel(ctx)
	events := chromedp.Events(lctx, fetch.RequestPaused) // subscribed now, before Enable
	var wg sync.WaitGroup
	wg.Go(func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			u, perr := url.Parse(ev.Request.URL + ev.Request.URLFragment)
			next := ev.Request.URL
			if perr == nil {
				edit(u)
				next = u.String()
			}
			if _, err := chromedp.Call(lctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID, URL: next}); err != nil {
				return
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: pattern}}}); err != nil {
		t.Fatalf("enable request interception: %v", err)
	}
}

func TestOIDCSignIn(t *testing.T) {
	s := startOIDC(t)
	wantLogin := func(code string) string { return s.dgp + "/_/ui/login?error=" + code }

	t.Run("mapped person gets in", func(t *testing.T) {
		ctx := browser.New(t)
		if got := s.signInAt(t, ctx, alice, true); got != s.dgp+"/_/ui/" {
			t.Fatalf("landed on %s, want the dashboard", got)
		}
		ck := sessionCookie(t, ctx, s.dgp)
		if ck == nil || !ck.HTTPOnly {
			t.Fatalf("session cookie %+v", ck)
		}
		status, who := whoami(t, ctx)
		wantID := "oidc:" + s.providerID + ":" + alice.ID
		if status != http.StatusOK || who["identity"] != wantID {
			t.Fatalf("whoami: %d %v, want identity %s", status, who, wantID)
		}
		if who["kind"] != "oidc" || who["name"] != alice.Email || who["provider"] != s.providerID {
			t.Errorf("whoami %v: want kind oidc, name %s, provider %s", who, alice.Email, s.providerID)
		}
	})

	t.Run("unmapped person is refused", func(t *testing.T) {
		ctx := browser.New(t)
		if got := s.signInAt(t, ctx, bob, false); got != wantLogin("oidc_denied") {
			t.Fatalf("landed on %s, want %s", got, wantLogin("oidc_denied"))
		}
		if ck := sessionCookie(t, ctx, s.dgp); ck != nil {
			t.Errorf("a session cookie was set: %+v", ck)
		}
		if status, who := whoami(t, ctx); status != http.StatusUnauthorized {
			t.Errorf("whoami: %d %v, want 401", status, who)
		}
		// The sign-in page says why.
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err := chromedp.Do(tctx, chromedp.WaitVisible(chromedp.ID("login-error")))
		msg, _ := chromedp.Run(tctx, chromedp.Text(chromedp.ID("login-error")))
		if err != nil || !strings.Contains(msg, "admin") {
			t.Errorf("sign-in page error %q (%v), want the oidc_denied message", msg, err)
		}
		browser.Screenshot(t, ctx, "oidc-denied")
	})

	t.Run("tampered state is refused", func(t *testing.T) {
		ctx := browser.New(t)
		rewrite(t, ctx, "*/_/api/admin/oidc/callback*", func(u *url.URL) {
			q := u.Query()
			q.Set("state", q.Get("state")+"tampered")
			u.RawQuery = q.Encode()
		})
		if got := s.signInAt(t, ctx, alice, false); got != wantLogin("oidc_state") {
			t.Fatalf("landed on %s, want %s", got, wantLogin("oidc_state"))
		}
		if status, _ := whoami(t, ctx); status != http.StatusUnauthorized {
			t.Errorf("whoami: %d, want 401", status)
		}
	})

	t.Run("tampered nonce is refused", func(t *testing.T) {
		ctx := browser.New(t)
		// The nonce sent to the provider is changed on the way: the ID
		// token then carries a nonce this sign-in never chose.
		rewrite(t, ctx, s.provider.Issuer+"auth?*", func(u *url.URL) {
			q := u.Query()
			q.Set("nonce", "tampered-"+q.Get("nonce"))
			u.RawQuery = q.Encode()
		})
		if got := s.signInAt(t, ctx, alice, false); got != wantLogin("oidc_nonce") {
			t.Fatalf("landed on %s, want %s", got, wantLogin("oidc_nonce"))
		}
		if status, _ := whoami(t, ctx); status != http.StatusUnauthorized {
			t.Errorf("whoami: %d, want 401", status)
		}
	})

	// Every refusal above was logged with its reason.
	for _, code := range []string{"oidc_denied", "oidc_state", "oidc_nonce"} {
		if !strings.Contains(s.logs.String(), fmt.Sprintf(`"result":%q`, code)) {
			t.Errorf("no log line for %s", code)
		}
	}
	if strings.Contains(s.logs.String(), s.provider.ClientSecret) {
		t.Error("the log holds the client secret")
	}
}
