package app

import "github.com/dgp-proxy/dgp/internal/admin"

// mountOIDC serves OIDC sign-in on the admin API: people sign in to the
// GUI through the OIDC auth providers of the config DB (docs/oidc.md).
func (a *App) mountOIDC(api *admin.API) {
	api.MountOIDC(admin.OIDCOptions{})
}
