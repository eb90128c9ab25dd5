package app

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/dgp-proxy/dgp/internal/admin"
	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/fleetstatus"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
)

// mountFleet serves the fleet view on the admin API: the status objects
// of the sync bucket, or this instance alone without config sync.
func (a *App) mountFleet(api *admin.API) {
	f, err := a.newFleet(context.Background())
	if err != nil {
		a.log.Error().Err(err).Msg("fleet view unavailable")
		return
	}
	a.fleet = f
	api.MountFleet(fleetAPI{f: f, node: a.nodeID})
}

// runFleetStatus publishes this instance's status to the sync bucket
// until ctx ends (on every change of the applied config DB, and every 30
// s); without config sync there is nothing to publish.
func (a *App) runFleetStatus(ctx context.Context) error {
	if !a.fleetSynced() {
		<-ctx.Done()
		return nil
	}
	if a.fleet == nil { // mountFleet failed and said why
		<-ctx.Done()
		return nil
	}
	return a.fleet.Run(ctx)
}

// fleetSynced reports whether the fleet status lives in the sync bucket:
// config sync on and IAM not declarative (which never uses the bucket).
func (a *App) fleetSynced() bool {
	return a.cfg.SyncEnabled() && a.cfg.Access.IAMMode != config.IAMModeDeclarative
}

// newFleet builds the fleet status on the sync bucket (its own client),
// or local-only without config sync.
func (a *App) newFleet(ctx context.Context) (*fleetstatus.Fleet, error) {
	o := fleetstatus.Options{
		Node:   a.nodeID,
		Local:  a.localFleetStatus,
		Now:    a.now,
		Logger: a.log,
	}
	if a.fleetSynced() {
		boot, err := LoadBootstrap(a.cfg)
		if err != nil {
			return nil, fmt.Errorf("fleet status key: %w", err)
		}
		o.Key = fleetstatus.DeriveKey(boot.Secret)
		s := a.cfg.SyncS3()
		client, err := s3backend.New(ctx, s3backend.Options{
			Name:            "fleet-status",
			Endpoint:        s.Endpoint,
			Region:          s.Region,
			AccessKeyID:     s.AccessKeyID,
			SecretAccessKey: s.SecretAccessKey,
			ForcePathStyle:  s.ForcePathStyle,
			PingBucket:      a.cfg.Advanced.ConfigSyncBucket,
			DisableFastPath: true,
			Retryer:         syncBucketRetryer,
		})
		if err != nil {
			return nil, fmt.Errorf("fleet status: sync bucket client: %w", err)
		}
		o.Store = fleetstatus.NewS3Store(client, a.cfg.Advanced.ConfigSyncBucket, a.cfg.Advanced.ConfigSyncObjectKey)
	}
	return fleetstatus.New(o)
}

// localFleetStatus is this instance's status, from the syncer.
func (a *App) localFleetStatus() fleetstatus.Status {
	ss := a.syncer.Status()
	st := fleetstatus.Status{
		Node:         a.nodeID,
		Version:      a.version,
		Role:         ss.Role,
		Schema:       ss.Schema,
		Generation:   ss.Generation,
		ETag:         ss.ETag,
		AdminURL:     a.cfg.Advanced.AdvertiseURL,
		EventSources: make([]fleetstatus.EventSource, 0, len(ss.EventSources)),
	}
	if ss.LastPull != nil {
		st.LastPull, st.PullSource = ss.LastPull.Time, ss.LastPull.Source
	}
	for _, es := range ss.EventSources {
		st.EventSources = append(st.EventSources, fleetstatus.EventSource{Name: es.Name, Connected: es.Connected, LastError: es.LastError})
	}
	return st
}

// buildVersion is the version of the running binary: the module version
// it was built as, else its VCS revision, else "dev".
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "dev-" + s.Value[:12]
		}
	}
	return "dev"
}

// fleetAPI adapts the fleet status to the admin API's Fleet, translating
// its errors once.
type fleetAPI struct {
	f    *fleetstatus.Fleet
	node string
}

var _ admin.Fleet = fleetAPI{}

func (f fleetAPI) View(ctx context.Context) (any, error) {
	return f.f.List(ctx)
}

func (f fleetAPI) Target(ctx context.Context, node string) (bool, string, error) {
	if node == f.node {
		return true, "", nil
	}
	in, err := f.f.Lookup(ctx, node)
	switch {
	case errors.Is(err, fleetstatus.ErrUnknownNode):
		return false, "", fmt.Errorf("%w: %w", admin.ErrFleetUnknownNode, err)
	case errors.Is(err, fleetstatus.ErrUnverified):
		return false, "", fmt.Errorf("%w: %w", admin.ErrFleetUnverified, err)
	case err != nil:
		return false, "", err
	}
	return false, in.AdminURL, nil
}
