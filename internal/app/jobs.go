package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/dgp-proxy/dgp/internal/admin"
	"github.com/dgp-proxy/dgp/internal/jobs"
	"github.com/dgp-proxy/dgp/internal/jobs/lifecycle"
	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/s3api"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
)

// JobsDir is where leases and job state live without a sync bucket.
const JobsDir = "jobs"

// enqueueTimeout bounds the wait of an S3 write for its marker: past it
// the write is answered anyway (the next full reconcile replicates it).
const enqueueTimeout = 5 * time.Second

// buildJobs builds the jobs engine (internal/jobs): leases and job state
// in the sync bucket when one is configured (the fleet's truth, whatever
// the IAM mode), else in the data directory (this instance's only).
func (a *App) buildJobs(ctx context.Context) error {
	cfg := a.cfg
	log := a.log.With().Str("component", "jobs").Logger()
	var leaseStore lease.Store
	var store jobs.Store
	rules := len(cfg.Storage.Replication.Rules) + len(cfg.Storage.Lifecycle.Rules)
	if cfg.SyncEnabled() && rules > 0 {
		s := cfg.SyncS3()
		client, err := s3backend.New(ctx, s3backend.Options{
			Name:            "jobs-sync",
			Endpoint:        s.Endpoint,
			Region:          s.Region,
			AccessKeyID:     s.AccessKeyID,
			SecretAccessKey: s.SecretAccessKey,
			ForcePathStyle:  s.ForcePathStyle,
			PingBucket:      cfg.Advanced.ConfigSyncBucket,
			DisableFastPath: true,
			Retryer:         syncBucketRetryer,
		})
		if err != nil {
			return fmt.Errorf("jobs: sync bucket client: %w", err)
		}
		if c, ok := any(client).(io.Closer); ok {
			a.closers = append(a.closers, c.Close)
		}
		store = jobs.NewBucketStore(client, cfg.Advanced.ConfigSyncBucket)
		leaseStore = store
	} else {
		dir := filepath.Join(cfg.Advanced.DataDir, JobsDir)
		ds, err := jobs.NewDirStore(dir)
		if err != nil {
			return fmt.Errorf("jobs: %w", err)
		}
		store, leaseStore = ds, ds
		if rules > 0 {
			log.Warn().Str("dir", dir).Msg("no sync bucket: job leases and state are local to this instance (a fleet would run every rule on every instance)")
		}
	}
	ttl, hb := cfg.JobsLease()
	m, err := lease.New(lease.Options{
		Store: leaseStore, Node: a.nodeID, TTL: ttl, Heartbeat: hb, Now: a.now,
		Registerer: a.reg, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	e, err := jobs.New(jobs.Options{
		Node: a.nodeID, Leases: m, Store: store, Buckets: a.router,
		Replication: cfg.Storage.Replication, Lifecycle: cfg.Storage.Lifecycle,
		LifecycleWork: lifecycleWork(a),
		Now:           a.now, Logger: a.log, Registerer: a.reg,
	})
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	a.jobs = e
	return nil
}

// withWriteHook wraps the S3 handler so that writes to a replication
// rule's source queue a marker for its leader (before they are answered).
func (a *App) withWriteHook(s3 http.Handler) http.Handler {
	if a.jobs == nil || len(a.cfg.Storage.Replication.Rules) == 0 {
		return s3
	}
	e := a.jobs
	return s3api.WriteHook(s3, a.cfg.Advanced.VirtualHostDomains, e.CoversBucket, func(ctx context.Context, bucket, key, op string) {
		if !e.Covers(bucket, key) {
			return
		}
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
		defer cancel()
		_ = e.Enqueue(qctx, bucket, key, op) // logged and counted by the engine
	})
}

// jobsAPI adapts the engine to the admin API's Jobs, translating its
// errors once.
type jobsAPI struct{ e *jobs.Engine }

var _ admin.Jobs = jobsAPI{}

func (j jobsAPI) List(ctx context.Context) (any, error) {
	v, err := j.e.List(ctx)
	return v, jobsError("", err)
}

func (j jobsAPI) Get(ctx context.Context, id string) (any, error) {
	v, err := j.e.Get(ctx, id)
	return v, jobsError(id, err)
}

func (j jobsAPI) RunNow(ctx context.Context, id string) (any, error) {
	v, err := j.e.RunNow(ctx, id)
	return v, jobsError(id, err)
}

func (j jobsAPI) Pause(ctx context.Context, id string) (any, error) {
	v, err := j.e.Pause(ctx, id)
	return v, jobsError(id, err)
}

func (j jobsAPI) Resume(ctx context.Context, id string) (any, error) {
	v, err := j.e.Resume(ctx, id)
	return v, jobsError(id, err)
}

func (j jobsAPI) Preview(ctx context.Context, id string) (any, error) {
	v, err := j.e.Preview(ctx, id)
	return v, jobsError(id, err)
}

func (j jobsAPI) Runs(ctx context.Context, id string) (any, error) {
	v, err := j.e.Runs(ctx, id)
	return v, jobsError(id, err)
}

func (j jobsAPI) Failures(ctx context.Context, id string) (any, error) {
	v, err := j.e.Failures(ctx, id)
	return v, jobsError(id, err)
}

func jobsError(id string, err error) error {
	var held *lease.HeldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &held):
		return &admin.JobHeldError{Job: id, Holder: held.Record.Holder, Token: held.Record.Token, Expires: held.Record.Expires}
	case errors.Is(err, jobs.ErrUnknownJob):
		return fmt.Errorf("%w: %w", admin.ErrJobNotFound, err)
	case errors.Is(err, jobs.ErrPaused), errors.Is(err, jobs.ErrDisabled), errors.Is(err, jobs.ErrNoPreview):
		return fmt.Errorf("%w: %w", admin.ErrJobRefused, err)
	}
	return err
}

// lifecycleWork builds lifecycle rules' work (internal/jobs/lifecycle).
func lifecycleWork(a *App) jobs.LifecycleWork {
	return lifecycle.NewWork(lifecycle.RouterResolver(a.router), a.now)
}
