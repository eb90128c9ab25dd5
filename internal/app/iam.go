package app

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/dgp-proxy/dgp/internal/admin"
	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/notify"
	"github.com/dgp-proxy/dgp/internal/notify/natsnotify"
	"github.com/dgp-proxy/dgp/internal/notify/sqsnotify"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
)

// ConfigDBFile is the config DB's file name in the data dir.
const ConfigDBFile = "deltaglider_config.db"

// eventSource is a running notification source (NATS or SQS).
type eventSource interface {
	Run(ctx context.Context) error
	Status() notify.SourceStatus
}

// buildSync builds the config DB keeper (with the sync bucket when one is
// configured) and the event sources that feed it.
func (a *App) buildSync(ctx context.Context, boot *Bootstrap) error {
	cfg := a.cfg
	adv := cfg.Advanced
	declarative := cfg.Access.IAMMode == config.IAMModeDeclarative
	opts := configsync.Options{
		Key:          adv.ConfigSyncObjectKey,
		Role:         string(adv.ConfigSyncRole),
		WriterURL:    adv.ConfigSyncWriterURL,
		NodeID:       a.nodeID,
		Version:      a.version,
		Secret:       boot.Secret,
		Keys:         configdb.NewKeyCache(4),
		LocalPath:    filepath.Join(adv.DataDir, ConfigDBFile),
		PollInterval: adv.ConfigSyncPollInterval,
		WriteSchema:  adv.ConfigSyncWriteSchema,
		// Revocations the admin API pruned are not carried back by a pull
		// or a publish.
		RevocationRetain: admin.RevocationRetain(cfg.Access.SessionTTL),
		Logger:           a.log,
		Registerer:       a.reg,
		Now:              a.now,
	}
	switch {
	case declarative:
		// access.iam_mode: declarative: this instance's config file is its
		// IAM truth, so the sync bucket is never used (no client, no pulls,
		// no event sources) and the reconcile must apply whatever the
		// configured role: a writer without a sync bucket. The bucket is
		// still named in the status.
		opts.Declarative = true
		opts.Role = configsync.RoleWriter
		opts.BucketName = adv.ConfigSyncBucket
		ev := a.log.Info()
		if cfg.SyncEnabled() {
			ev = ev.Str("bucket", adv.ConfigSyncBucket)
		}
		ev.Msg("declarative iam: the config db is local only, the sync bucket is not used")
	case cfg.SyncEnabled():
		s := cfg.SyncS3()
		store, err := s3backend.New(ctx, s3backend.Options{
			Name:            "config-sync",
			Endpoint:        s.Endpoint,
			Region:          s.Region, // empty: s3backend.DefaultRegion
			AccessKeyID:     s.AccessKeyID,
			SecretAccessKey: s.SecretAccessKey,
			ForcePathStyle:  s.ForcePathStyle,
			PingBucket:      adv.ConfigSyncBucket,
			// The control plane: a few small requests, so the SDK path as
			// the SDK intends, with the retryer of syncBucketRetryer.
			DisableFastPath: true,
			Retryer:         syncBucketRetryer,
		})
		if err != nil {
			return fmt.Errorf("config sync bucket client: %w", err)
		}
		// The pull's conditional GET, which every instance sends on every
		// IAM change, goes as one signed request on the fast path; a GET it
		// gets no answer to (network, 5xx, throttling) is sent again through
		// store's SDK path and retryer (configsync.NewS3BucketThinGet).
		// On a plain-HTTP endpoint it is sent and answered on the pulling
		// goroutine (configsync.DirectTransport: no transport goroutines
		// to wake on every change).
		var getHTTP *http.Client
		if configsync.DirectTransportFits(s.Endpoint) {
			getHTTP = &http.Client{Transport: configsync.NewDirectTransport(),
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		}
		getter, err := s3backend.New(ctx, s3backend.Options{
			Name:            "config-sync-get",
			Endpoint:        s.Endpoint,
			Region:          s.Region,
			AccessKeyID:     s.AccessKeyID,
			SecretAccessKey: s.SecretAccessKey,
			ForcePathStyle:  s.ForcePathStyle,
			PingBucket:      adv.ConfigSyncBucket,
			Retryer:         syncBucketRetryer,
			HTTPClient:      getHTTP,
		})
		if err != nil {
			return fmt.Errorf("config sync bucket client: %w", err)
		}
		opts.Bucket = configsync.NewS3BucketThinGet(store, getter, adv.ConfigSyncBucket)
		opts.BucketName = adv.ConfigSyncBucket
		opts.Endpoint = s.Endpoint
		a.eventMetrics = notify.NewMetrics(a.reg)
		opts.EventMetrics = a.eventMetrics
	}
	syncer, err := configsync.New(opts)
	if err != nil {
		return fmt.Errorf("config sync: %w", err)
	}
	a.syncer = syncer
	a.health.Add("config_sync", syncer.Ready)
	if opts.Bucket != nil {
		if err := a.buildEventSources(ctx); err != nil {
			return err
		}
	}
	return nil
}

// syncBucketRetryer is the SDK retryer of the sync bucket client: the
// SDK's standard retryer (exponential backoff with jitter, retrying
// throttling, 5xx and connection errors of GET, HEAD and DELETE; PUTs
// stream their body and are never retried, which a conditional PUT needs
// anyway: a retry after the first attempt landed would answer 412, so
// configsync settles an ambiguous PUT itself), configured for a caller
// that has its own loop. A few quick attempts ride out a blip within one
// request, so a publish does not fail for a reset connection; beyond that
// the syncer reports the bucket unavailable at once and retries with its
// own capped backoff (configsync Options.RetryMax), so the SDK's backoff
// is kept short, and its retry quota is off: once a long outage spent it,
// the token bucket would refuse retries with a client-side error for a
// while after the bucket came back, and the syncer bounds the request
// rate already.
func syncBucketRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.MaxBackoff = 2 * time.Second
		o.RateLimiter = ratelimit.None
	})
}

func (a *App) buildEventSources(ctx context.Context) error {
	adv := a.cfg.Advanced
	filter := notify.Filter{Bucket: adv.ConfigSyncBucket, Key: adv.ConfigSyncObjectKey}
	if n := adv.ConfigSyncNATS; n.URL != "" {
		src := natsnotify.New(natsnotify.Options{
			URL:             n.URL,
			Subject:         n.Subject,
			Stream:          n.Stream,
			CredentialsFile: n.Credentials,
			Token:           n.Token,
			User:            n.User,
			Password:        n.Password,
			TLS:             natsnotify.TLSOptions{CAFile: n.TLS.CAFile, CertFile: n.TLS.CertFile, KeyFile: n.TLS.KeyFile},
			Now:             a.now,
		}, filter, a.syncer, a.log, a.eventMetrics)
		a.sources = append(a.sources, src)
		a.syncer.AddSource(natsnotify.SourceName, src.Status)
	}
	if q := adv.ConfigSyncSQS; q.QueueURL != "" {
		client, err := sqsnotify.NewClient(ctx, q.QueueURL, q.Region, q.Endpoint)
		if err != nil {
			return fmt.Errorf("sqs event source: %w", err)
		}
		src := sqsnotify.New(client, sqsnotify.Options{QueueURL: q.QueueURL, Now: a.now}, filter, a.syncer, a.log, a.eventMetrics)
		a.sources = append(a.sources, src)
		a.syncer.AddSource(sqsnotify.SourceName, src.Status)
	}
	return nil
}

// buildAdmin builds the admin JSON API on top of the config DB keeper.
func (a *App) buildAdmin(boot *Bootstrap) (*admin.API, error) {
	var sync admin.Sync
	if a.cfg.SyncEnabled() {
		sync = syncStatus{a.syncer}
	}
	return admin.New(admin.Options{
		IAM:            a.syncer,
		Sync:           sync,
		CheckPassword:  boot.CheckPassword,
		SessionKey:     boot.SessionKey(),
		SessionTTL:     a.cfg.Access.SessionTTL,
		LoginRateLimit: loginRateLimit(a.cfg.Access.LoginRateLimit),
		SecureCookies:  a.tls,
		Declarative:    a.cfg.Access.IAMMode == config.IAMModeDeclarative,
		WriterURL:      a.cfg.Advanced.ConfigSyncWriterURL,
		Logger:         a.log,
		Registerer:     a.reg,
		Now:            a.now,
	})
}

// syncStatus adapts the Syncer to the admin API's Sync interface.
type syncStatus struct{ *configsync.Syncer }

func (s syncStatus) Status() any { return s.Syncer.Status() }

// startSync loads the local DB, probes the bucket and pulls, after the
// event sources have been started (so no change slips between).
func (a *App) startSync(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := a.syncer.Start(sctx); err != nil {
		return fmt.Errorf("config db: %w", err)
	}
	return nil
}

// loginRateLimit is the admin API's login rate limit for the configured
// one, whose 0 turns the limit off (the admin API's 0 is its default).
func loginRateLimit(perMinute int) int {
	if perMinute == 0 {
		return admin.NoLoginRateLimit
	}
	return perMinute
}
