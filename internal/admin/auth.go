package admin

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

type loginRequest struct {
	Password        string `json:"password"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

type sessionInfo struct {
	Identity string `json:"identity"`
	Kind     string `json:"kind"` // "admin", "user" or "oidc"
	UserID   string `json:"user_id,omitempty"`
	UserName string `json:"user_name,omitempty"`
	// OIDC sessions: the auth provider's id, the dgp groups the mapping
	// gave, and the person's name (email, else preferred_username, else
	// name, else subject).
	Provider  string    `json:"provider,omitempty"`
	Groups    []string  `json:"groups,omitempty"`
	Name      string    `json:"name,omitempty"`
	SessionID string    `json:"session_id"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func newSessionInfo(c claims, userName string) sessionInfo {
	s := sessionInfo{Identity: c.Identity, Kind: "admin", SessionID: c.ID, IssuedAt: c.issuedAt(), ExpiresAt: c.expires()}
	if id, ok := strings.CutPrefix(c.Identity, identityUserPrefix); ok {
		s.Kind, s.UserID, s.UserName = "user", id, userName
	} else if strings.HasPrefix(c.Identity, identityOIDCPrefix) {
		s.Kind, s.Provider, s.Groups, s.Name = "oidc", c.Provider, c.Groups, c.Name
	}
	return s
}

var errBadCredentials = &apiError{Status: http.StatusUnauthorized, Code: "invalid_credentials",
	Message: "wrong password or access key"}

// login signs in with the bootstrap password, or with the key pair of an
// enabled IAM user allowed admin on "*", and sets the session cookie.
func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	ip := clientIP(r)
	if ok, wait := a.limiter.allow(ip, a.now()); !ok {
		a.metrics.logins.WithLabelValues(loginRateLimited).Inc()
		a.log.Warn().Str("ip", ip).Msg("admin login rate limited")
		return &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited", RetryAfter: retryAfterSeconds(wait),
			Message: "too many login attempts from this address: retry later"}
	}
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.metrics.logins.WithLabelValues(loginBadRequest).Inc()
		return err
	}
	byKey := req.AccessKeyID != "" || req.SecretAccessKey != ""
	switch {
	case req.Password != "" && byKey:
		a.metrics.logins.WithLabelValues(loginBadRequest).Inc()
		return badRequest("password", "give either password or access_key_id and secret_access_key, not both")
	case !byKey && req.Password == "":
		a.metrics.logins.WithLabelValues(loginBadRequest).Inc()
		return badRequest("password", "password (or access_key_id and secret_access_key) is required")
	case byKey && (req.AccessKeyID == "" || req.SecretAccessKey == ""):
		a.metrics.logins.WithLabelValues(loginBadRequest).Inc()
		return badRequest("secret_access_key", "access_key_id and secret_access_key go together")
	}

	var (
		c        claims
		userName string
	)
	if !byKey {
		if !a.checkPassword(req.Password) {
			return a.loginFailed(ip, "password", "")
		}
		c = a.newClaims(identityAdmin, "")
	} else {
		st := a.iam.Current()
		u, found := st.UserByAccessKey(req.AccessKeyID)
		stored := dummySecret
		if found {
			stored = u.SecretAccessKey
		}
		secretOK := subtle.ConstantTimeCompare([]byte(stored), []byte(req.SecretAccessKey)) == 1
		if !found || !secretOK || !u.Enabled {
			return a.loginFailed(ip, "access_key", u.ID)
		}
		if !isAdmin(st, u) {
			a.metrics.logins.WithLabelValues(loginFailure).Inc()
			a.log.Warn().Str("ip", ip).Str("method", "access_key").Str("user_id", u.ID).
				Msg("admin login refused: user may not administer")
			return &apiError{Status: http.StatusForbidden, Code: "not_admin",
				Message: "user " + u.Name + " may not use the admin API: it needs an Allow rule with action admin on resource *"}
		}
		c = a.newClaims(identityUserPrefix+u.ID, a.keyFingerprint(u.AccessKeyID))
		userName = u.Name
	}
	a.setSessionCookie(w, a.sign(c), c.expires())
	a.metrics.logins.WithLabelValues(loginSuccess).Inc()
	p := principal{claims: c, userName: userName}
	a.log.Info().Str("identity", p.who()).Str("ip", ip).Str("session_id", c.ID).Msg("admin login")
	writeJSON(w, http.StatusOK, newSessionInfo(c, userName))
	return nil
}

// dummySecret is compared against when an access key is unknown, so both
// cases take the same time.
const dummySecret = "dgp-no-such-user-dummy-secret-000000000"

func (a *API) loginFailed(ip, method, userID string) error {
	a.metrics.logins.WithLabelValues(loginFailure).Inc()
	ev := a.log.Warn().Str("ip", ip).Str("method", method)
	if userID != "" {
		ev = ev.Str("user_id", userID)
	}
	ev.Msg("admin login failed")
	return errBadCredentials
}

// isAdmin reports whether u (own rules and its groups') has an Allow rule
// with action admin (or *) on resource "*" and no such Deny rule.
func isAdmin(st *configdb.State, u iam.User) bool {
	f := rulesAdminFlags(u.Permissions)
	for _, gid := range u.GroupIDs {
		if g, ok := st.Group(gid); ok {
			f = f.with(rulesAdminFlags(g.Permissions))
		}
	}
	return f.grants()
}

type logoutResponse struct {
	Revoked bool   `json:"revoked"`
	Message string `json:"message,omitempty"`
}

// logout clears the cookie and revokes the session fleet-wide. When the
// revocation cannot be published (a reader, the bucket down) the cookie is
// cleared anyway and the answer says revoked: false.
func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	a.clearSessionCookie(w)
	p, err := a.authenticate(r, a.iam.Current())
	if err != nil {
		writeJSON(w, http.StatusOK, logoutResponse{Message: "no valid session: the cookie was cleared"})
		return nil
	}
	since := a.now()
	if iat := p.issuedAt(); iat.After(since) {
		since = iat // the token came from an instance whose clock is ahead
	}
	op := &configdb.RevokeSessions{Identity: identitySessPrefix + p.ID, Since: since, Retain: a.retain()}
	if _, err := a.publish(r, p, op); err != nil {
		reason := a.classify(err).Message
		writeJSON(w, http.StatusOK, logoutResponse{Message: "the cookie was cleared, but the session could not be revoked " +
			"fleet-wide (" + reason + "): the token stays valid until " + p.expires().Format(time.RFC3339) +
			" for anyone who holds a copy"})
		return nil
	}
	writeJSON(w, http.StatusOK, logoutResponse{Revoked: true})
	return nil
}

func (a *API) whoami(w http.ResponseWriter, _ *http.Request, p *principal) error {
	writeJSON(w, http.StatusOK, newSessionInfo(p.claims, p.userName))
	return nil
}

// publish applies and publishes op on behalf of p, logging one line. The
// same change revokes the sessions op ends (see endedSessions).
func (a *API) publish(r *http.Request, p *principal, op configdb.Op) (*configdb.State, error) {
	st, err := a.iam.Publish(r.Context(), &revokingOp{op: op, retain: a.retain()})
	if err != nil {
		a.log.Warn().Str("identity", p.who()).Str("ip", p.ip).Str("op", op.Describe()).
			Str("result", a.classify(err).Code).Err(err).Msg("iam mutation refused")
		return nil, err
	}
	a.log.Info().Str("identity", p.who()).Str("ip", p.ip).Str("op", op.Describe()).
		Uint64("generation", st.Generation()).Msg("iam mutation")
	return st, nil
}
