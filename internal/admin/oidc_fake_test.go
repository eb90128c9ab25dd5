package admin

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	jose "github.com/go-jose/go-jose/v4"
)

// fakeOP is an in-process OIDC provider for the unit tests: discovery,
// keys, a token endpoint that checks the client, the code, the redirect
// URI and the PKCE verifier, and userinfo. The authorization step is a
// method (authorize) rather than a login page: the tests choose who signs
// in, and the knobs inject what a real provider cannot produce on demand
// (a wrong nonce, a foreign signature, an expired token).
type fakeOP struct {
	t        testing.TB
	srv      *httptest.Server
	key      *rsa.PrivateKey
	clientID string
	secret   string
	now      func() time.Time

	mu     sync.Mutex
	codes  map[string]fakeGrant // code -> grant
	users  map[string]fakeUser  // by subject
	knobs  fakeKnobs
	tokens map[string]string // access token -> subject
	calls  int               // requests to the token endpoint
}

type fakeUser struct {
	idClaims map[string]any // claims in the ID token (besides the registered ones)
	userinfo map[string]any // claims of userinfo (sub added)
}

type fakeGrant struct {
	sub, nonce, challenge, redirect string
}

// fakeKnobs change the next ID tokens.
type fakeKnobs struct {
	nonce    string          // when set, the ID token carries it instead of the request's
	signer   *rsa.PrivateKey // when set, signs the ID token (a key the provider never published)
	audience string          // when set, the ID token's aud
	expired  bool            // the ID token expired an hour ago
	uiSub    string          // when set, userinfo answers this subject
}

const fakeKID = "fake-key-1"

func newFakeOP(t testing.TB, now func() time.Time) *fakeOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeOP{t: t, key: key, clientID: "dgp-client", secret: "dgp-client-secret", now: now,
		codes: map[string]fakeGrant{}, users: map[string]fakeUser{}, tokens: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("GET /keys", f.keys)
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("GET /userinfo", f.userinfo)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOP) issuer() string { return f.srv.URL }

// tokenCalls is the number of requests the token endpoint has had.
func (f *fakeOP) tokenCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeOP) addUser(sub string, idClaims, userinfo map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[sub] = fakeUser{idClaims: idClaims, userinfo: userinfo}
}

func (f *fakeOP) setKnobs(k fakeKnobs) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.knobs = k
}

func (f *fakeOP) discovery(w http.ResponseWriter, _ *http.Request) {
	writeTestJSON(w, map[string]any{
		"issuer":                                f.issuer(),
		"authorization_endpoint":                f.issuer() + "/auth",
		"token_endpoint":                        f.issuer() + "/token",
		"userinfo_endpoint":                     f.issuer() + "/userinfo",
		"jwks_uri":                              f.issuer() + "/keys",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (f *fakeOP) keys(w http.ResponseWriter, _ *http.Request) {
	writeTestJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: f.key.Public(), KeyID: fakeKID, Algorithm: "RS256", Use: "sig"}}})
}

// authorize plays the provider's authorization step for the login
// redirect authURL, the person being sub: it returns the callback URL the
// provider would send the browser to.
func (f *fakeOP) authorize(authURL, sub string) string {
	f.t.Helper()
	u, err := url.Parse(authURL)
	if err != nil || !strings.HasPrefix(authURL, f.issuer()+"/auth?") {
		f.t.Fatalf("login redirected to %q, not to the provider's authorization endpoint", authURL)
	}
	q := u.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": f.clientID, "code_challenge_method": "S256"} {
		if q.Get(k) != want {
			f.t.Fatalf("authorization request %s = %q, want %q (%s)", k, q.Get(k), want, authURL)
		}
	}
	if !strings.Contains(" "+q.Get("scope")+" ", " openid ") || q.Get("nonce") == "" || q.Get("state") == "" || q.Get("code_challenge") == "" {
		f.t.Fatalf("authorization request lacks openid, nonce, state or code_challenge: %s", authURL)
	}
	code := randomToken()
	f.mu.Lock()
	f.codes[code] = fakeGrant{sub: sub, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	f.mu.Unlock()
	cb, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		f.t.Fatal(err)
	}
	cq := url.Values{"code": {code}, "state": {q.Get("state")}}
	cb.RawQuery = cq.Encode()
	return cb.String()
}

func (f *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	if id != f.clientID || secret != f.secret {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	g, ok := f.codes[r.PostFormValue("code")]
	delete(f.codes, r.PostFormValue("code"))
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	switch {
	case !ok || r.PostFormValue("grant_type") != "authorization_code":
		tokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	case r.PostFormValue("redirect_uri") != g.redirect:
		tokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		tokenError(w, http.StatusBadRequest, "invalid_grant") // PKCE
		return
	}
	k := f.knobs
	claims := map[string]any{}
	maps.Copy(claims, f.users[g.sub].idClaims)
	now := f.now()
	exp := now.Add(time.Hour)
	if k.expired {
		exp = now.Add(-time.Hour)
	}
	claims["iss"], claims["sub"], claims["aud"] = f.issuer(), g.sub, f.clientID
	claims["iat"], claims["exp"], claims["nonce"] = now.Unix(), exp.Unix(), g.nonce
	if k.audience != "" {
		claims["aud"] = k.audience
	}
	if k.nonce != "" {
		claims["nonce"] = k.nonce
	}
	signer := f.key
	if k.signer != nil {
		signer = k.signer
	}
	raw, _ := json.Marshal(claims)
	access := randomToken()
	f.tokens[access] = g.sub
	writeTestJSON(w, map[string]any{
		"access_token": access, "token_type": "Bearer", "expires_in": 3600,
		"id_token": oidctest.SignIDToken(signer, fakeKID, "RS256", string(raw)),
	})
}

func (f *fakeOP) userinfo(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sub, ok := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	out := map[string]any{}
	maps.Copy(out, f.users[sub].userinfo)
	out["sub"] = sub
	if f.knobs.uiSub != "" {
		out["sub"] = f.knobs.uiSub
	}
	writeTestJSON(w, out)
}

func tokenError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":` + strconv.Quote(code) + `}`))
}

func writeTestJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
