package admin

import "github.com/dgp-proxy/dgp/internal/configdb"

// identityOIDCPrefix starts the identity of a session signed in through an
// OIDC provider: "oidc:<provider id>:<subject>".
const identityOIDCPrefix = "oidc:"

// authenticateOIDC checks an OIDC session against st (stub: refused).
func (a *API) authenticateOIDC(_ *principal, _ *configdb.State) (*principal, error) {
	return nil, errRevoked
}
