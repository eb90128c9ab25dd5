package app

import "github.com/dgp-proxy/dgp/internal/admin"

// mountObjects serves the object browser's endpoints on the admin API.
func (a *App) mountObjects(_ *admin.API) {}
