package app

import (
	"context"
	"net/http"

	"github.com/dgp-proxy/dgp/internal/admin"
)

// The hooks below are where the admin GUI's parts plug into the instance;
// each moves to its own file (fleet.go, objects.go, oidc.go, gui.go).

// mountFleet serves the fleet view on the admin API.
func (a *App) mountFleet(_ *admin.API) {}

// runFleetStatus publishes this instance's status until ctx ends.
func (a *App) runFleetStatus(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// mountObjects serves the object browser's endpoints on the admin API.
func (a *App) mountObjects(_ *admin.API) {}

// mountOIDC serves OIDC sign-in on the admin API.
func (a *App) mountOIDC(_ *admin.API) {}

// mountGUI serves the GUI's pages under /_/.
func (a *App) mountGUI(_ *http.ServeMux) {}
