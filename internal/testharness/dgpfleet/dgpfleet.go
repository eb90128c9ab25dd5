// Package dgpfleet starts in-process dgp instances (one or a fleet), each
// built by app.New on 127.0.0.1:0 and run until stopped, for the
// integration tests and the measuring tools.
//
// It imports internal/app, so internal/testutil and internal/testharness
// must never import it: app's own in-package tests use those two, and
// would form an import cycle. cmd/dgp never imports it either.
package dgpfleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/app"
	"github.com/dgp-proxy/dgp/internal/config"
)

// The credentials an instance gets when its Spec leaves them empty.
const (
	DefaultAccessKeyID       = "FLEETROOTACCESSKEY00"
	DefaultSecretAccessKey   = "fleetRootSecret0000000000000000000000000"
	DefaultBootstrapPassword = "fleet-bootstrap-password"
)

// Spec says how to start one instance: config.Default with the fields
// below set, then Configure, then Validate.
type Spec struct {
	// DataDir is the instance's data directory (required).
	DataDir string
	// NodeID is the node id; empty lets dgp generate one.
	NodeID string
	// Root keys and bootstrap password; empty means the Default* constants.
	AccessKeyID       string
	SecretAccessKey   string
	BootstrapPassword string
	// CertFile and KeyFile, when both set, make the instance serve TLS.
	CertFile string
	KeyFile  string
	// Configure, when not nil, adjusts the config last (storage, sync, ...).
	Configure func(*config.Config)
	// Logger receives the instance's log (zero value: nothing is written).
	Logger zerolog.Logger
}

// Config returns the validated config Start would run s with.
func (s Spec) Config() (*config.Config, error) {
	if s.DataDir == "" {
		return nil, errors.New("dgpfleet: no data dir")
	}
	cfg := config.Default()
	cfg.Advanced.DataDir = s.DataDir
	cfg.Advanced.ListenAddr = "127.0.0.1:0"
	cfg.Advanced.NodeID = s.NodeID
	cfg.Access.AccessKeyID = or(s.AccessKeyID, DefaultAccessKeyID)
	cfg.Access.SecretAccessKey = or(s.SecretAccessKey, DefaultSecretAccessKey)
	cfg.Access.BootstrapPassword = or(s.BootstrapPassword, DefaultBootstrapPassword)
	if s.CertFile != "" && s.KeyFile != "" {
		cfg.Advanced.TLS.CertFile = s.CertFile
		cfg.Advanced.TLS.KeyFile = s.KeyFile
	}
	if s.Configure != nil {
		s.Configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// Instance is one running in-process dgp.
type Instance struct {
	// App is the running instance.
	App *app.App
	// Config is the config it runs with.
	Config *config.Config

	cancel context.CancelFunc
	done   chan struct{}
	err    error // Run's result, set before done is closed
}

// Start builds an instance from s, binds it and runs it until Stop or
// until ctx ends. The listener is bound when Start returns.
func Start(ctx context.Context, s Spec) (*Instance, error) {
	cfg, err := s.Config()
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	a, err := app.New(rctx, app.Options{Config: cfg, Logger: s.Logger, Stderr: io.Discard})
	if err != nil {
		cancel()
		return nil, err
	}
	in := &Instance{App: a, Config: cfg, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(in.done)
		in.err = a.Run(rctx)
	}()
	return in, nil
}

// URL is the instance's base URL ("http(s)://127.0.0.1:port").
func (in *Instance) URL() string { return in.App.URL() }

// Root returns the instance's root S3 credentials.
func (in *Instance) Root() app.RootCredentials { return in.App.RootCredentials() }

// Stop ends the instance and waits for Run to return, or for ctx to end.
// It returns Run's error; calling it again returns the same.
func (in *Instance) Stop(ctx context.Context) error {
	in.cancel()
	select {
	case <-in.done:
		if in.err != nil {
			return fmt.Errorf("dgp stopped with: %w", in.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("dgp did not stop: %w", ctx.Err())
	}
}

// Fleet is a set of running instances.
type Fleet []*Instance

// StartN starts n instances, at most parallel at a time (at least one),
// instance i from spec(i). If one fails to start, those started are
// stopped and the first error is returned.
func StartN(ctx context.Context, n, parallel int, spec func(i int) Spec) (Fleet, error) {
	f := make(Fleet, n)
	errs := make([]error, n)
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			f[i], errs[i] = Start(ctx, spec(i))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("instance %d: %w", i, err)
		}
	}
	return f, nil
}

// Close stops every instance in parallel and waits for all of them; it
// returns their errors joined.
func (f Fleet) Close() error {
	errs := make([]error, len(f))
	var wg sync.WaitGroup
	for i, in := range f {
		if in != nil {
			wg.Go(func() { errs[i] = in.Stop(context.Background()) })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
