package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/dgp-proxy/dgp/internal/app"
	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/declarative"
	"github.com/dgp-proxy/dgp/internal/jobs"
	"github.com/dgp-proxy/dgp/internal/jobs/lifecycle"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
)

// jobsPlanTimeout bounds the reads of the fleet's job objects.
const jobsPlanTimeout = 30 * time.Second

// planJobs prints the jobs plan of cfg's rules: with a sync bucket the
// fleet's lease and state objects in it, without one the data dir's
// (this instance's only); offline, neither. With preview, each lifecycle
// rule's preview counts too. It never writes.
func planJobs(cfg *config.Config, rules []declarative.JobRule, offline, preview bool, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), jobsPlanTimeout)
	defer cancel()
	now := time.Now()
	var r declarative.FleetReader
	var where string
	if !offline {
		var closeFn func() error
		var err error
		r, where, closeFn, err = fleetReader(ctx, cfg)
		if err != nil {
			// The IAM plan stands; the fleet's side is said unreadable.
			fmt.Fprintf(stderr, "dgp: jobs: the fleet's objects cannot be read: %v\n", err)
			r, where = nil, ""
		}
		if closeFn != nil {
			defer closeFn()
		}
	}
	p := declarative.PlanJobs(ctx, rules, r, where, now)
	if preview && len(cfg.Storage.Lifecycle.Rules) > 0 {
		router, err := previewRouter(ctx, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "dgp: jobs: no lifecycle preview: %v\n", err)
		} else {
			p.PreviewLifecycle(ctx, cfg, lifecycle.RouterResolver(router), now)
			closeBackends(router)
		}
	}
	return p.Write(stdout, now)
}

// previewRouter builds the configured backends as the server does, for
// listings only: directory backends read-only (a server may be using
// them), and one whose root does not exist is an error.
func previewRouter(ctx context.Context, cfg *config.Config) (*storage.Router, error) {
	for _, bc := range cfg.Backends() {
		if bc.Type != config.BackendFilesystem {
			continue
		}
		if _, err := os.Stat(bc.Path); err != nil {
			return nil, fmt.Errorf("backend %s: %w", bc.Name, err)
		}
	}
	return app.BuildReadOnlyRouter(ctx, cfg, time.Now)
}

// closeBackends closes the router's backends that hold resources.
func closeBackends(r *storage.Router) {
	for _, b := range r.Backends() {
		if c, ok := b.(io.Closer); ok {
			_ = c.Close()
		}
	}
}

// fleetReader opens where the engine keeps job leases and state: the
// sync bucket (as internal/app does), else the data dir's jobs directory
// when it exists (nil when it does not).
func fleetReader(ctx context.Context, cfg *config.Config) (declarative.FleetReader, string, func() error, error) {
	if !cfg.SyncEnabled() {
		dir := filepath.Join(cfg.Advanced.DataDir, app.JobsDir)
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil, nil
		} else if err != nil {
			return nil, "", nil, err
		}
		ds, err := jobs.NewDirStore(dir)
		if err != nil {
			return nil, "", nil, err
		}
		return ds, "data dir " + dir + " (this instance's only: no sync bucket)", nil, nil
	}
	s := cfg.SyncS3()
	client, err := s3backend.New(ctx, s3backend.Options{
		Name:            "jobs-plan",
		Endpoint:        s.Endpoint,
		Region:          s.Region,
		AccessKeyID:     s.AccessKeyID,
		SecretAccessKey: s.SecretAccessKey,
		ForcePathStyle:  s.ForcePathStyle,
		PingBucket:      cfg.Advanced.ConfigSyncBucket,
		DisableFastPath: true,
	})
	if err != nil {
		return nil, "", nil, fmt.Errorf("sync bucket client: %w", err)
	}
	var closeFn func() error
	if c, ok := any(client).(io.Closer); ok {
		closeFn = c.Close
	}
	return jobs.NewBucketStore(client, cfg.Advanced.ConfigSyncBucket), "sync bucket " + cfg.Advanced.ConfigSyncBucket, closeFn, nil
}
