package app

import (
	"context"

	"github.com/dgp-proxy/dgp/internal/admin"
)

// mountFleet serves the fleet view on the admin API.
func (a *App) mountFleet(_ *admin.API) {}

// runFleetStatus publishes this instance's status until ctx ends.
func (a *App) runFleetStatus(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
