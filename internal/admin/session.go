package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

// Session identities.
const (
	identityAdmin      = "admin" // the bootstrap password
	identityUserPrefix = "user:" // + user id: an IAM user with admin on *
	identitySessPrefix = "session:"
)

// Token format: "v1." + base64url(JSON claims) + "." + base64url(HMAC-SHA256
// over the two first parts, with a context label). The claims are readable
// by whoever holds the cookie; they hold no secret.
const (
	tokenVersion = "v1"
	macLabel     = "dgp admin session\x00"
	fpLabel      = "dgp admin session key fingerprint\x00"
	maxTokenLen  = 2048
)

// Reasons a token is refused (never shown to clients, who see 401).
var (
	errMalformedToken = errors.New("malformed session token")
	errBadSignature   = errors.New("bad session signature")
	errExpired        = errors.New("session expired")
	errRevoked        = errors.New("session revoked")
)

// claims is the payload of a session token.
type claims struct {
	Identity string `json:"sub"`           // "admin" or "user:<id>"
	IssuedAt int64  `json:"iat"`           // Unix milliseconds
	Expires  int64  `json:"exp"`           // Unix milliseconds
	ID       string `json:"sid"`           // random, 32 hex characters
	KeyFP    string `json:"kfp,omitempty"` // user sessions: fingerprint of the access key at login
	// OIDC sessions (oidc.go): the provider's id, the groups the mapping
	// gave at sign-in, and a display name (email or subject).
	Provider string   `json:"prv,omitempty"`
	Groups   []string `json:"grp,omitempty"`
	Name     string   `json:"name,omitempty"`
}

func (c *claims) issuedAt() time.Time { return time.UnixMilli(c.IssuedAt).UTC() }
func (c *claims) expires() time.Time  { return time.UnixMilli(c.Expires).UTC() }

// newClaims returns the claims of a session of identity starting now.
func (a *API) newClaims(identity, keyFP string) claims {
	var sid [16]byte
	_, _ = rand.Read(sid[:]) // never fails (Go >= 1.24)
	now := a.now()
	return claims{
		Identity: identity,
		IssuedAt: now.UnixMilli(),
		Expires:  now.Add(a.ttl).UnixMilli(),
		ID:       hex.EncodeToString(sid[:]),
		KeyFP:    keyFP,
	}
}

// sign returns the token of c.
func (a *API) sign(c claims) string {
	payload, _ := json.Marshal(c) // plain struct: cannot fail
	head := tokenVersion + "." + base64.RawURLEncoding.EncodeToString(payload)
	return head + "." + base64.RawURLEncoding.EncodeToString(a.mac(head))
}

func (a *API) mac(head string) []byte {
	m := hmac.New(sha256.New, a.sessionKey)
	m.Write([]byte(macLabel))
	m.Write([]byte(head))
	return m.Sum(nil)
}

// keyFingerprint binds a user session to the access key the user held at
// login: rotating the keys changes it. It reveals nothing about the key.
func (a *API) keyFingerprint(accessKeyID string) string {
	m := hmac.New(sha256.New, a.sessionKey)
	m.Write([]byte(fpLabel))
	m.Write([]byte(accessKeyID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// parse checks the token's signature and expiry and returns its claims.
func (a *API) parse(token string) (claims, error) {
	var c claims
	if len(token) > maxTokenLen {
		return c, errMalformedToken
	}
	ver, rest, ok := strings.Cut(token, ".")
	if !ok || ver != tokenVersion {
		return c, errMalformedToken
	}
	payload64, sig64, ok := strings.Cut(rest, ".")
	if !ok {
		return c, errMalformedToken
	}
	sig, err := base64.RawURLEncoding.DecodeString(sig64)
	if err != nil {
		return c, errMalformedToken
	}
	if !hmac.Equal(sig, a.mac(ver+"."+payload64)) {
		return c, errBadSignature
	}
	payload, err := base64.RawURLEncoding.DecodeString(payload64)
	if err != nil {
		return c, errMalformedToken
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Identity == "" || c.ID == "" {
		return claims{}, errMalformedToken
	}
	if a.now().UnixMilli() >= c.Expires {
		return c, errExpired
	}
	return c, nil
}

// principal is who a request acts as.
type principal struct {
	claims
	userName string // user sessions
	ip       string
}

// who is the identity for logs: "admin", or "user:<id> (<name>)".
func (p *principal) who() string {
	if p.userName != "" {
		return p.Identity + " (" + p.userName + ")"
	}
	return p.Identity
}

// authenticate returns the principal of the request's session cookie,
// checked against st: signature, expiry, revocations (of the identity and
// of this session), and for user sessions that the user still exists, is
// enabled, is an admin and holds the access key it signed in with.
func (a *API) authenticate(r *http.Request, st *configdb.State) (*principal, error) {
	err := errMalformedToken
	// A browser may send several cookies of that name (e.g. a stale one
	// set with another path): the first valid one counts.
	for i, ck := range r.CookiesNamed(CookieName) {
		if i == maxSessionCookies {
			break
		}
		var p *principal
		if p, err = a.authenticateToken(ck.Value, st); err == nil {
			p.ip = clientIP(r)
			return p, nil
		}
	}
	return nil, err
}

// maxSessionCookies bounds the session cookies of one request tried.
const maxSessionCookies = 4

func (a *API) authenticateToken(token string, st *configdb.State) (*principal, error) {
	c, err := a.parse(token)
	if err != nil {
		return nil, err
	}
	if revoked(st, c) {
		return nil, errRevoked
	}
	p := &principal{claims: c}
	switch {
	case c.Identity == identityAdmin:
		return p, nil
	case strings.HasPrefix(c.Identity, identityUserPrefix):
		u, ok := st.User(strings.TrimPrefix(c.Identity, identityUserPrefix))
		if !ok || !u.Enabled || !isAdmin(st, u) ||
			!hmac.Equal([]byte(c.KeyFP), []byte(a.keyFingerprint(u.AccessKeyID))) {
			return nil, errRevoked
		}
		p.userName = u.Name
		return p, nil
	case strings.HasPrefix(c.Identity, identityOIDCPrefix):
		return a.authenticateOIDC(p, st) // oidc.go
	}
	return nil, errMalformedToken
}

// revoked reports whether a revocation in st covers the session c: of its
// identity, of the session itself, of everyone, and for OIDC sessions of
// its provider ("oidc:<provider id>") or of one of its mapped groups
// ("group:<id>").
func revoked(st *configdb.State, c claims) bool {
	iat := c.issuedAt()
	if st.SessionRevoked(c.Identity, iat) || st.SessionRevoked(identitySessPrefix+c.ID, iat) ||
		st.SessionRevoked(identityEveryone, iat) {
		return true
	}
	rest, ok := strings.CutPrefix(c.Identity, identityOIDCPrefix)
	if !ok {
		return false
	}
	prv := c.Provider
	if prv == "" {
		prv, _, _ = strings.Cut(rest, ":")
	}
	if st.SessionRevoked(identityOIDCPrefix+prv, iat) {
		return true
	}
	for _, g := range c.Groups {
		if st.SessionRevoked(identityGroupPrefix+g, iat) {
			return true
		}
	}
	return false
}

// setSessionCookie sets the session cookie holding token until exp.
func (a *API) setSessionCookie(w http.ResponseWriter, token string, exp time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		Expires:  exp,
		MaxAge:   int(exp.Sub(a.now()).Seconds()),
		HttpOnly: true,
		Secure:   a.secure,
		SameSite: http.SameSiteStrictMode,
	})
}

// clearSessionCookie tells the browser to drop the session cookie.
func (a *API) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    "",
		Path:     "/",
		Expires:  time.Unix(0, 0),
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   a.secure,
		SameSite: http.SameSiteStrictMode,
	})
}

// access says whether an endpoint changes IAM.
type access int

const (
	read   access = iota // reads and non-IAM actions (sync-now)
	mutate               // IAM mutations: refused in declarative mode
)

// authed wraps an endpoint that needs a session: 401 without a valid one,
// 403 iam_declarative for mutations in declarative mode.
func (a *API) authed(acc access, h func(w http.ResponseWriter, r *http.Request, p *principal) error) errHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := a.authenticate(r, a.iam.Current())
		if err != nil {
			return errUnauthenticated
		}
		if acc == mutate && a.declarative {
			return &apiError{Status: http.StatusForbidden, Code: "iam_declarative",
				Message: "IAM is declarative (access.iam_mode: declarative): change access.iam in the config file instead"}
		}
		return h(w, r, p)
	}
}
