package admin

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// flowCookieName is the cookie holding a sign-in in progress.
const flowCookieName = "dgp_oidc_flow"

// flowState is what the flow cookie carries from the login redirect to the
// callback: nothing is kept on the instance, so the callback may land on
// another one. It is signed (not encrypted): the PKCE verifier and the
// nonce's hash are useless without the code only the provider hands out.
type flowState struct {
	State     string `json:"st"`  // random, 256 bits, compared with the callback's state
	NonceHash string `json:"nh"`  // base64url SHA-256 of the nonce sent
	Verifier  string `json:"pv"`  // PKCE code verifier
	Provider  string `json:"prv"` // auth provider id
	Return    string `json:"ret"` // GUI path to land on
	Redirect  string `json:"rdr"` // redirect URL sent (the exchange must repeat it)
	Expires   int64  `json:"exp"` // Unix milliseconds
}

// Reasons a flow cookie is refused (logged, the person sees oidc_state).
var (
	errNoFlow       = errors.New("no sign-in flow cookie (expired, or the browser dropped it)")
	errFlowExpired  = errors.New("sign-in flow expired")
	errFlowTampered = errors.New("sign-in flow cookie malformed or not signed by this fleet")
)

const flowLabel = "dgp oidc flow\x00"

func (f *oidcFlow) flowMAC(head string) []byte {
	m := hmac.New(sha256.New, f.a.sessionKey)
	m.Write([]byte(flowLabel))
	m.Write([]byte(head))
	return m.Sum(nil)
}

func (f *oidcFlow) encodeFlow(fs flowState) string {
	payload, _ := json.Marshal(fs) // plain struct: cannot fail
	head := "f1." + base64.RawURLEncoding.EncodeToString(payload)
	return head + "." + base64.RawURLEncoding.EncodeToString(f.flowMAC(head))
}

func (f *oidcFlow) decodeFlow(v string) (flowState, error) {
	var fs flowState
	if len(v) > maxTokenLen {
		return fs, errFlowTampered
	}
	i := strings.LastIndexByte(v, '.')
	if i < 0 || !strings.HasPrefix(v, "f1.") {
		return fs, errFlowTampered
	}
	sig, err := base64.RawURLEncoding.DecodeString(v[i+1:])
	if err != nil || !hmac.Equal(sig, f.flowMAC(v[:i])) {
		return fs, errFlowTampered
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(v[:i], "f1."))
	if err != nil || json.Unmarshal(payload, &fs) != nil || fs.State == "" || fs.Provider == "" {
		return flowState{}, errFlowTampered
	}
	if f.a.now().UnixMilli() >= fs.Expires {
		return fs, errFlowExpired
	}
	return fs, nil
}

func (f *oidcFlow) setFlowCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     flowCookieName,
		Value:    value,
		Path:     Prefix + "/oidc/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   f.a.secure,
		// Lax: the provider sends the browser back with a cross-site
		// top-level GET, which Strict would strip the cookie from.
		SameSite: http.SameSiteLaxMode,
	})
}

// randomToken returns 256 random bits, base64url.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (Go >= 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashNonce(nonce string) string {
	h := sha256.Sum256([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// oauthConfig is the OAuth 2 client of provider p.
func oauthConfig(p iam.AuthProvider, op *oidc.Provider, redirect string) *oauth2.Config {
	scopes := slices.Clone(p.Scopes)
	if len(scopes) == 0 {
		scopes = []string{"email", "profile"}
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	return &oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret,
		Endpoint:     op.Endpoint(),
		RedirectURL:  redirect,
		Scopes:       scopes,
	}
}

// login starts a sign-in through the provider of the path: it sets the
// flow cookie and redirects to the provider's authorization endpoint. The
// query's "return" (a /_/ui/ path) is where the person lands afterwards.
func (f *oidcFlow) login(w http.ResponseWriter, r *http.Request) error {
	ip, ok := f.admit(w, r)
	if !ok {
		return nil
	}
	id := r.PathValue("id")
	prov, ok := f.a.iam.Current().Provider(id)
	if !ok || !usableProvider(prov) {
		return f.fail(w, r, oidcErrProvider, id, errors.New("no enabled OIDC auth provider with that id"))
	}
	op, err := f.discovery.get(r.Context(), prov.IssuerURL)
	if err != nil {
		return f.fail(w, r, oidcErrFailed, id, err)
	}
	nonce, verifier := randomToken(), oauth2.GenerateVerifier()
	fs := flowState{
		State:     randomToken(),
		NonceHash: hashNonce(nonce),
		Verifier:  verifier,
		Provider:  prov.ID,
		Return:    safeReturnPath(r.URL.Query().Get("return")),
		Redirect:  f.a.oidcRedirectURL(prov, r),
		Expires:   f.a.now().Add(f.flowTTL).UnixMilli(),
	}
	f.setFlowCookie(w, f.encodeFlow(fs), int(f.flowTTL.Seconds()))
	target := oauthConfig(prov, op, fs.Redirect).AuthCodeURL(fs.State, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	f.a.oidcLimiter.refund(ip, f.a.now())
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// callback finishes a sign-in: it checks the state against the flow
// cookie, exchanges the code (with the PKCE verifier), verifies the ID
// token (signature, issuer, audience, expiry, nonce), maps the person's
// claims to dgp groups and, when those grant the admin API, sets the
// session cookie and sends the browser on to the GUI (signedInPage).
func (f *oidcFlow) callback(w http.ResponseWriter, r *http.Request) error {
	f.setFlowCookie(w, "", -1) // one use, whatever happens
	w.Header().Set("Cache-Control", "no-store")
	if _, ok := f.admit(w, r); !ok {
		return nil
	}
	ck, err := r.Cookie(flowCookieName)
	if err != nil {
		return f.fail(w, r, oidcErrState, "", errNoFlow)
	}
	fs, err := f.decodeFlow(ck.Value)
	if err != nil {
		return f.fail(w, r, oidcErrState, fs.Provider, err)
	}
	q := r.URL.Query()
	if !hmac.Equal([]byte(q.Get("state")), []byte(fs.State)) {
		return f.fail(w, r, oidcErrState, fs.Provider, errors.New("state does not match the flow cookie's"))
	}
	if e := q.Get("error"); e != "" {
		return f.fail(w, r, oidcErrFailed, fs.Provider, fmt.Errorf("the provider answered error %q: %s",
			clip(e, 64), clip(q.Get("error_description"), 200)))
	}
	prov, ok := f.a.iam.Current().Provider(fs.Provider)
	if !ok || !usableProvider(prov) {
		return f.fail(w, r, oidcErrProvider, fs.Provider, errors.New("the auth provider was removed or disabled during the sign-in"))
	}
	op, err := f.discovery.get(r.Context(), prov.IssuerURL)
	if err != nil {
		return f.fail(w, r, oidcErrFailed, prov.ID, err)
	}
	ctx := f.discovery.httpContext(r.Context())
	tok, err := oauthConfig(prov, op, fs.Redirect).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(fs.Verifier))
	if err != nil {
		return f.fail(w, r, oidcErrFailed, prov.ID, exchangeError(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return f.fail(w, r, oidcErrFailed, prov.ID, errors.New("the token answer holds no id_token"))
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: prov.ClientID, Now: f.a.now}).Verify(ctx, raw)
	if err != nil {
		return f.fail(w, r, oidcErrFailed, prov.ID, fmt.Errorf("id token refused: %w", err))
	}
	if !hmac.Equal([]byte(hashNonce(idt.Nonce)), []byte(fs.NonceHash)) {
		return f.fail(w, r, oidcErrNonce, prov.ID, errors.New("the id token's nonce is not the one this sign-in sent"))
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return f.fail(w, r, oidcErrFailed, prov.ID, fmt.Errorf("id token claims: %w", err))
	}
	if _, has := claims["email"]; !has && op.UserInfoEndpoint() != "" {
		if err := mergeUserInfo(ctx, op, tok, idt.Subject, claims); err != nil {
			return f.fail(w, r, oidcErrFailed, prov.ID, err)
		}
	}
	return f.signIn(w, r, fs, prov, idt.Subject, claims)
}

// mergeUserInfo adds to claims those of the userinfo endpoint the ID
// token lacks (the token's own win). The userinfo's subject must be the
// token's.
func mergeUserInfo(ctx context.Context, op *oidc.Provider, tok *oauth2.Token, subject string, claims map[string]any) error {
	ui, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	if ui.Subject != subject {
		return errors.New("userinfo answered for another subject than the id token's")
	}
	extra := map[string]any{}
	if err := ui.Claims(&extra); err != nil {
		return fmt.Errorf("userinfo claims: %w", err)
	}
	for k, v := range extra {
		if _, has := claims[k]; !has {
			claims[k] = v
		}
	}
	return nil
}

// signIn maps the person's claims to groups and, when those grant the
// admin API, sets the session cookie and sends the browser on to the GUI.
func (f *oidcFlow) signIn(w http.ResponseWriter, r *http.Request, fs flowState, prov iam.AuthProvider,
	subject string, claims map[string]any) error {
	st := f.a.iam.Current()
	groups := iam.MapGroups(prov, claims)
	name := displayName(subject, claims)
	if !iam.GroupsGrantAdmin(groups, st.Group) {
		return f.fail(w, r, oidcErrDenied, prov.ID, fmt.Errorf("%s (subject %q) maps to groups %v, which do not grant admin on *",
			name, clip(subject, 128), groups))
	}
	c := f.a.newClaims(oidcIdentity(prov.ID, subject), "")
	c.Provider, c.Groups, c.Name = prov.ID, groups, name
	token := f.a.sign(c)
	if len(token) > maxTokenLen {
		return f.fail(w, r, oidcErrFailed, prov.ID, fmt.Errorf("the session of %s would be too large (%d groups, subject of %d bytes)",
			name, len(groups), len(subject)))
	}
	f.a.setSessionCookie(w, token, c.expires())
	f.a.metrics.logins.WithLabelValues(loginSuccess).Inc()
	ip := clientIP(r)
	f.a.oidcLimiter.refund(ip, f.a.now())
	p := principal{claims: c, userName: name}
	f.a.log.Info().Str("identity", p.who()).Str("ip", ip).Str("method", "oidc").Str("provider", prov.ID).
		Strs("groups", groups).Str("session_id", c.ID).Msg("admin login")
	writeSignedIn(w, fs.Return)
	return nil
}

// signedInPage sends the browser on to the GUI. Not a redirect: the
// callback is the end of a navigation that started at the provider, so a
// browser treats a redirect from it as cross-site too and would not send
// the new SameSite=Strict session cookie with it (the GUI would find no
// session). A refresh started by this page is a same-site navigation.
var signedInPage = template.Must(template.New("signed-in").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={{.}}"><title>Signed in</title></head>
<body><p>Signed in. <a href="{{.}}">Continue</a></p></body></html>
`))

func writeSignedIn(w http.ResponseWriter, target string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer") // the callback's URL holds the code
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_ = signedInPage.Execute(w, target)
}

// admit spends one of the client address's OIDC sign-in attempts
// (API.oidcLimiter); a step that succeeds gives it back, so only failures
// count and a person signing in is never held up. An address sending
// bogus callbacks (each would cost a code exchange with the provider) or
// logins through an unreachable issuer (each a discovery fetch) is
// refused after LoginRateLimit failures in a minute, before any request to
// the provider: 302 to the sign-in page with rate_limited (and
// Retry-After, for scripts). It reports the address and whether to go on.
func (f *oidcFlow) admit(w http.ResponseWriter, r *http.Request) (string, bool) {
	ip := clientIP(r)
	ok, wait := f.a.oidcLimiter.allow(ip, f.a.now())
	if ok {
		return ip, true
	}
	f.a.metrics.logins.WithLabelValues(loginRateLimited).Inc()
	f.a.log.Warn().Str("ip", ip).Str("method", "oidc").Msg("admin login rate limited")
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
	http.Redirect(w, r, guiLogin+"?error="+oidcErrRateLimited, http.StatusFound)
	return ip, false
}

// fail logs why a sign-in failed and sends the person to the sign-in page
// with code.
func (f *oidcFlow) fail(w http.ResponseWriter, r *http.Request, code, provider string, why error) error {
	f.a.metrics.logins.WithLabelValues(loginFailure).Inc()
	ev := f.a.log.Warn().Str("ip", clientIP(r)).Str("method", "oidc").Str("result", code)
	if provider != "" {
		ev = ev.Str("provider", clip(provider, 64))
	}
	ev.AnErr("reason", why).Msg("admin login failed")
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, guiLogin+"?error="+url.QueryEscape(code), http.StatusFound)
	return nil
}

// exchangeError describes a failed code exchange without the provider's
// raw answer (which might echo what was sent).
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Errorf("code exchange refused: status %d, error %q: %s", status, clip(re.ErrorCode, 64),
			clip(re.ErrorDescription, 200))
	}
	return fmt.Errorf("code exchange: %w", err)
}

// displayName is how a person signed in through OIDC is named in logs and
// whoami: the email, else the preferred username, else the name, else the
// subject.
func displayName(subject string, claims map[string]any) string {
	str := func(k string) string { s, _ := claims[k].(string); return s }
	return clip(cmp.Or(str("email"), str("preferred_username"), str("name"), subject), 128)
}

// clip shortens s to at most n bytes (on a rune boundary).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
