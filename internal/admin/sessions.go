package admin

import (
	"net/http"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

// revokeAllRequest is the optional body of POST /sessions/revoke-all.
type revokeAllRequest struct {
	// Everyone revokes the sessions of every identity (IAM users, OIDC
	// sign-ins), not only the bootstrap admin's.
	Everyone bool `json:"everyone"`
}

// revokeAllResponse answers POST /sessions/revoke-all.
type revokeAllResponse struct {
	Revoked string    `json:"revoked"` // "admin" or "everyone"
	Since   time.Time `json:"since"`
	Message string    `json:"message"`
}

var errNotBootstrapAdmin = &apiError{Status: http.StatusForbidden, Code: "not_bootstrap_admin",
	Message: "only the bootstrap admin (signed in with the password) may sign out everywhere"}

// revokeAll is sign-out-everywhere for the bootstrap admin: every session
// of identity "admin" issued until now ends on every instance (the
// caller's too: its cookie is cleared), or with {"everyone": true} every
// session of every identity. A session signed in afterwards is valid.
// Not an IAM mutation: it works in declarative mode, and on a reader it is
// refused as any publish is (409 read_only_replica).
func (a *API) revokeAll(w http.ResponseWriter, r *http.Request, p *principal) error {
	if p.Identity != identityAdmin {
		return errNotBootstrapAdmin
	}
	var req revokeAllRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	since := a.now()
	if iat := p.issuedAt(); iat.After(since) {
		since = iat // the caller's own token came from an instance whose clock is ahead
	}
	op := &configdb.RevokeSessions{Identity: identityAdmin, Since: since, Retain: a.retain()}
	resp := revokeAllResponse{Revoked: "admin", Since: since.UTC(),
		Message: "every bootstrap admin session issued until now is revoked on every instance: sign in again"}
	if req.Everyone {
		op.Identity = identityEveryone
		resp.Revoked = "everyone"
		resp.Message = "every admin session (bootstrap admin, IAM users, OIDC) issued until now is revoked on every instance: sign in again"
	}
	if _, err := a.publish(r, p, op); err != nil {
		return err
	}
	a.clearSessionCookie(w)
	writeJSON(w, http.StatusOK, resp)
	return nil
}
