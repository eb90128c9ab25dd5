// Package app is dgp's composition root: it builds every part from a
// config.Config and runs them until the context ends, then stops gracefully.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/dgp-proxy/dgp/internal/admin"
	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/fleetstatus"
	"github.com/dgp-proxy/dgp/internal/jobs"
	"github.com/dgp-proxy/dgp/internal/notify"
	"github.com/dgp-proxy/dgp/internal/obs"
	"github.com/dgp-proxy/dgp/internal/s3api"
	"github.com/dgp-proxy/dgp/internal/sigv4"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
)

// Options are what the caller provides besides the config.
type Options struct {
	Config *config.Config
	Logger zerolog.Logger
	// Stderr receives the one-time print of generated secrets.
	Stderr io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Registry receives every metric (default: a new one).
	Registry *prometheus.Registry
	// ConfigFile and Environ are what Reload reads again (as
	// config.LoadEnviron: "" means $DGP_CONFIG, else ./deltaglider_proxy.yaml;
	// Environ default os.Environ). See declarative.go.
	ConfigFile string
	Environ    func() []string
	// Version is this binary's version (unset or "dev": from the build
	// info), published in
	// the probe witness and the instance's fleet status.
	Version string
	// BodyReadTimeout is how long an S3 request body may send nothing
	// before it is answered 400 RequestTimeout (0: s3api's default,
	// 20 s). Tests shorten it; it is not a config key.
	BodyReadTimeout time.Duration
}

// App is one running dgp instance.
type App struct {
	cfg          *config.Config
	log          zerolog.Logger
	now          func() time.Time
	reg          *prometheus.Registry
	root         RootCredentials
	nodeID       string
	version      string             // Options.Version
	fleet        *fleetstatus.Fleet // the fleet view and status publisher (fleet.go); nil when it failed to build
	router       *storage.Router
	health       *obs.Health
	handler      http.Handler
	tls          bool
	ln           net.Listener
	srv          *http.Server
	syncer       *configsync.Syncer
	sources      []eventSource
	eventMetrics *notify.Metrics
	closeMu      sync.Mutex
	closers      []func() error
	stopOnce     sync.Once
	decl         *declarer    // declarative IAM reconciles (declarative.go)
	jobs         *jobs.Engine // replication and lifecycle rules (jobs.go)
}

// New builds an instance and binds its listener (so Addr is known before
// Run). The caller must call Run, or Close when it will not.
func New(ctx context.Context, o Options) (_ *App, err error) {
	if o.Config == nil {
		return nil, errors.New("app: no config")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Registry == nil {
		o.Registry = obs.NewRegistry()
	}
	cfg := o.Config
	a := &App{cfg: cfg, log: o.Logger, now: o.Now, reg: o.Registry, version: o.Version}
	if a.version == "" || a.version == "dev" {
		a.version = buildVersion() // fleet.go: the module version, else dev-<revision>
	}

	dataDir := cfg.Advanced.DataDir
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dataDir, err)
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.root, err = loadRootCredentials(dataDir, cfg.Access.AccessKeyID, cfg.Access.SecretAccessKey, o.Stderr); err != nil {
		return nil, err
	}
	if a.nodeID, err = loadNodeID(dataDir, cfg.Advanced.NodeID); err != nil {
		return nil, err
	}
	a.log = a.log.With().Str("node", a.nodeID).Logger()

	if a.router, err = BuildRouter(ctx, cfg, o.Now); err != nil {
		return nil, err
	}
	for _, b := range a.router.Backends() {
		if c, ok := b.(io.Closer); ok {
			a.closers = append(a.closers, c.Close)
		}
	}
	boot, err := loadBootstrap(dataDir, cfg.Access.BootstrapPassword, cfg.Access.BootstrapPasswordHash, cfg.SyncEnabled(), o.Stderr)
	if err != nil {
		return nil, err
	}
	a.tls = cfg.TLSEnabled()
	a.health = obs.NewHealth(5 * time.Second)
	if err := a.buildSync(ctx, boot); err != nil {
		return nil, err
	}
	if err := a.buildDeclarative(o); err != nil {
		return nil, err
	}
	adminAPI, err := a.buildAdmin(boot)
	if err != nil {
		return nil, fmt.Errorf("admin api: %w", err)
	}
	if err := a.buildJobs(ctx); err != nil {
		return nil, err
	}
	adminAPI.MountJobs(jobsAPI{a.jobs})
	a.mountFleet(adminAPI)
	a.mountObjects(adminAPI)
	a.mountOIDC(adminAPI)
	for _, b := range a.router.Backends() {
		a.health.Add("backend:"+b.Name(), func(ctx context.Context) (string, error) {
			if err := b.Ping(ctx); err != nil {
				return "unreachable", err
			}
			return "ok", nil
		})
	}

	s3, err := s3api.New(s3api.Options{
		Buckets:    a.router,
		Principals: &principals{root: rootPrincipal{a.root}, state: a.syncer.Current},
		Verifier: sigv4.New(sigv4.Options{
			Now:                o.Now,
			SigV2:              cfg.Access.SigV2,
			Regions:            cfg.SigningRegions(),
			VirtualHostDomains: cfg.Advanced.VirtualHostDomains,
		}),
		Logger:             a.log,
		Registerer:         a.reg,
		VirtualHostDomains: cfg.Advanced.VirtualHostDomains,
		Region:             reportedRegion(cfg),
		Now:                o.Now,
		BodyReadTimeout:    o.BodyReadTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 api: %w", err)
	}
	a.handler = a.routes(a.withWriteHook(s3), adminAPI)

	ln, err := net.Listen("tcp", cfg.Advanced.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Advanced.ListenAddr, err)
	}
	a.ln = ln
	a.srv = &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    cfg.Advanced.MaxHeaderBytes,
		ErrorLog:          newStdLogger(a.log.With().Str("component", "http").Logger()),
	}
	if cfg.TLSEnabled() {
		cert, err := tls.LoadX509KeyPair(cfg.Advanced.TLS.CertFile, cfg.Advanced.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		a.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return a, nil
}

// Addr is the address the instance listens on.
func (a *App) Addr() string { return a.ln.Addr().String() }

// URL is the base URL of the instance ("http(s)://host:port").
func (a *App) URL() string {
	scheme := "http"
	if a.tls {
		scheme = "https"
	}
	return scheme + "://" + a.Addr()
}

// RootCredentials returns the instance's break-glass S3 credentials.
func (a *App) RootCredentials() RootCredentials { return a.root }

// Handler is the whole HTTP surface (S3, admin, health, metrics).
func (a *App) Handler() http.Handler { return a.handler }

// Run starts the event sources, loads and pulls the config DB, then serves
// until ctx ends; then it stops accepting, lets in-flight requests finish
// (up to advanced.shutdown_timeout) and releases everything.
func (a *App) Run(ctx context.Context) error {
	defer a.Close()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(rctx)
	for _, src := range a.sources {
		g.Go(func() error { return src.Run(gctx) })
	}
	if err := a.startConfig(gctx); err != nil { // config DB, then declarative IAM (declarative.go)
		a.log.Error().Err(err).Msg("startup failed")
		cancel()
		_ = g.Wait()
		return err
	}
	g.Go(func() error { return a.syncer.Run(gctx) })
	g.Go(func() error { return a.jobs.Run(gctx) })
	g.Go(func() error { return a.runFleetStatus(gctx) })
	g.Go(func() error {
		var err error
		if a.tls {
			err = a.srv.ServeTLS(a.ln, "", "")
		} else {
			err = a.srv.Serve(a.ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.Advanced.ShutdownTimeout)
		defer cancel()
		if err := a.srv.Shutdown(sctx); err != nil {
			a.log.Warn().Err(err).Msg("graceful stop cut short")
		}
		return nil
	})
	a.log.Info().Str("addr", a.Addr()).Str("url", a.URL()).Msg("serving")
	err := g.Wait()
	a.log.Info().Msg("stopped")
	return err
}

// Close releases what New acquired. It is idempotent.
func (a *App) Close() {
	a.stopOnce.Do(func() {
		if a.ln != nil {
			_ = a.ln.Close()
		}
		a.closeMu.Lock()
		defer a.closeMu.Unlock()
		for i := len(a.closers) - 1; i >= 0; i-- {
			_ = a.closers[i]()
		}
	})
}

func (a *App) routes(s3, adminAPI http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(admin.Prefix+"/", adminAPI)
	mux.HandleFunc("GET /_/health", a.health.ServeHealth)
	mux.HandleFunc("HEAD /_/health", a.health.ServeHealth)
	mux.HandleFunc("GET /_/ready", a.health.ServeReady)
	mux.Handle("GET /_/metrics", obs.MetricsHandler(a.reg))
	a.mountGUI(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The admin API answers its own paths, unclean ones included: the
		// mux's path-cleaning redirect would move a request for the object
		// key a//b onto a/b.
		if strings.HasPrefix(r.URL.Path, admin.Prefix+"/") {
			adminAPI.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/_/") {
			mux.ServeHTTP(w, r)
			return
		}
		s3.ServeHTTP(w, r)
	})
}

// BuildRouter builds the configured storage backends and the bucket routes
// (the server's, and `dgp iam plan --lifecycle-preview`'s).
func BuildRouter(ctx context.Context, cfg *config.Config, now func() time.Time) (*storage.Router, error) {
	return buildRouter(ctx, cfg, now, fsbackend.New)
}

// BuildReadOnlyRouter is BuildRouter for tools that only read beside a
// running server: directory backends are opened read-only (their staging
// directories, where the server's uploads in flight are, left alone).
func BuildReadOnlyRouter(ctx context.Context, cfg *config.Config, now func() time.Time) (*storage.Router, error) {
	return buildRouter(ctx, cfg, now, fsbackend.OpenReadOnly)
}

func buildRouter(ctx context.Context, cfg *config.Config, now func() time.Time,
	openDir func(name, root string, now func() time.Time) (*fsbackend.Backend, error)) (*storage.Router, error) {
	var backends []storage.Backend
	for _, bc := range cfg.Backends() {
		switch bc.Type {
		case config.BackendFilesystem:
			b, err := openDir(bc.Name, bc.Path, now)
			if err != nil {
				return nil, fmt.Errorf("backend %s: %w", bc.Name, err)
			}
			backends = append(backends, b)
		case config.BackendS3:
			b, err := s3backend.New(ctx, s3backend.Options{
				Name:            bc.Name,
				Endpoint:        bc.Endpoint,
				Region:          bc.Region,
				AccessKeyID:     bc.AccessKeyID,
				SecretAccessKey: bc.SecretAccessKey,
				ForcePathStyle:  bc.ForcePathStyle,
				DisableFastPath: !cfg.Advanced.S3FastPath,
				Now:             now,
			})
			if err != nil {
				return nil, fmt.Errorf("backend %s: %w", bc.Name, err)
			}
			backends = append(backends, b)
		default:
			return nil, fmt.Errorf("backend %s: unknown type %q", bc.Name, bc.Type)
		}
	}
	routes := map[string]storage.Route{}
	for name, r := range cfg.Storage.Buckets {
		routes[name] = storage.Route{Backend: r.Backend, Alias: r.Alias}
	}
	return storage.NewRouter(backends, cfg.DefaultBackend(), routes)
}

// reportedRegion is the region GetBucketLocation and HeadBucket report: the
// first region clients must sign for, else storage.region, else "" (the S3
// API's us-east-1).
func reportedRegion(cfg *config.Config) string {
	if r := cfg.SigningRegions(); len(r) > 0 {
		return r[0]
	}
	return cfg.Storage.Region
}
