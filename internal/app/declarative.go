package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/admin"
	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/declarative"
)

// Triggers and results of dgp_declarative_iam_reconciles_total.
const (
	reconcileStartup = "startup"
	reconcileReload  = "reload"

	resultApplied   = "applied"   // a new generation was written
	resultUnchanged = "unchanged" // the DB already matched: nothing written
	resultInvalid   = "invalid"   // the file (or the environment) is invalid
	resultRefused   = "refused"   // valid, but it would delete every user
	resultFailed    = "failed"    // the DB could not be written
)

// declarer reconciles declarative IAM (access.iam_mode: declarative): at
// startup with the configuration the App was built from, and on Reload
// with the configuration file and environment read again.
type declarer struct {
	mode    config.IAMMode
	file    string
	environ func() []string
	log     zerolog.Logger
	count   *prometheus.CounterVec
	// initial is the reconcile of the startup configuration (declarative
	// mode only).
	initial *declarative.Reconcile
	// started is closed when the startup reconcile is done; Reload waits
	// for it.
	started   chan struct{}
	startOnce sync.Once
	// mu serialises reconciles.
	mu sync.Mutex
}

// buildDeclarative prepares the reconciles (New calls it after buildSync).
// In declarative mode the declared IAM is validated now, so that a file
// that cannot be reconciled stops startup.
func (a *App) buildDeclarative(o Options) error {
	d := &declarer{
		mode:    a.cfg.Access.IAMMode,
		file:    o.ConfigFile,
		environ: o.Environ,
		log:     a.log.With().Str("component", "declarative-iam").Logger(),
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dgp_declarative_iam_reconciles_total",
			Help: "Declarative IAM reconciles by trigger (startup, reload) and result (applied, unchanged, invalid, refused, failed).",
		}, []string{"trigger", "result"}),
		started: make(chan struct{}),
	}
	if d.environ == nil {
		d.environ = os.Environ
	}
	if err := a.reg.Register(d.count); err != nil {
		return fmt.Errorf("declarative iam metrics: %w", err)
	}
	if d.mode == config.IAMModeDeclarative {
		op, err := reconcileOp(a.cfg)
		if err != nil {
			return fmt.Errorf("declarative iam: %w", err)
		}
		d.initial = op
	}
	a.decl = d
	return nil
}

// reconcileOp returns the reconcile of the IAM cfg declares.
func reconcileOp(cfg *config.Config) (*declarative.Reconcile, error) {
	want, err := declarative.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	return declarative.NewReconcile(want)
}

// startConfig loads (and pulls) the config DB, then runs the startup
// reconcile of declarative IAM: what Run does before serving.
func (a *App) startConfig(ctx context.Context) error {
	if err := a.startSync(ctx); err != nil {
		return err
	}
	return a.startDeclarative(ctx)
}

// startDeclarative runs the startup reconcile (Run calls it once the config
// DB is loaded, before serving). A declared IAM that is refused (it would
// delete every user) leaves the DB as it is, logged at error level; only a
// DB that cannot be written stops startup.
func (a *App) startDeclarative(ctx context.Context) error {
	d := a.decl
	defer d.startOnce.Do(func() { close(d.started) })
	if d.mode != config.IAMModeDeclarative {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	err := a.reconcile(ctx, reconcileStartup, d.initial)
	if err != nil && !errors.Is(err, declarative.ErrWouldDeleteAllUsers) && !errors.Is(err, configdb.ErrInvalid) {
		return err
	}
	return nil
}

// Reload re-reads the configuration file and the environment (as the App
// was started: Options.ConfigFile, Options.Environ) and, in declarative
// mode, reconciles IAM to the file: the whole difference is applied as one
// new generation of the config DB, or nothing when nothing changed. Only
// IAM is reloaded: other settings need a restart.
//
// A file that cannot be read or is invalid (broken YAML, a missing ${VAR},
// a bad value), one that switches access.iam_mode, and one that would
// delete every user (without access.iam_allow_empty) leave the running
// state untouched: the reason is logged at error level and returned. In
// gui mode a valid file changes nothing. Reload waits until the startup
// reconcile has run; it is safe for concurrent use (reloads run one at a
// time). The SIGHUP handler of `dgp serve` calls it.
func (a *App) Reload(ctx context.Context) error {
	d := a.decl
	if d == nil {
		return errors.New("reload: the app was not built by New")
	}
	select {
	case <-d.started:
	case <-ctx.Done():
		return fmt.Errorf("reload: %w", ctx.Err())
	}
	d.mu.Lock()
	defer d.mu.Unlock()

	cfg, warnings, err := config.LoadEnviron(d.file, d.environ())
	for _, w := range warnings {
		d.log.Warn().Str("warning", w).Msg("reload: configuration warning")
	}
	if err == nil && cfg.Access.IAMMode != d.mode {
		err = fmt.Errorf("access.iam_mode changed from %s to %s: switching modes needs a restart", d.mode, cfg.Access.IAMMode)
	}
	var op *declarative.Reconcile
	if err == nil && d.mode == config.IAMModeDeclarative {
		op, err = reconcileOp(cfg)
	}
	if err != nil {
		d.count.WithLabelValues(reconcileReload, resultInvalid).Inc()
		d.log.Error().Err(err).Str("trigger", reconcileReload).
			Msg("reload refused: the configuration is invalid; the running IAM is kept")
		return fmt.Errorf("reload: invalid configuration: %w", err)
	}
	if d.mode != config.IAMModeDeclarative {
		d.log.Info().Str("iam_mode", string(d.mode)).
			Msg("reload: configuration is valid; IAM is managed through the admin API in this mode, and other settings need a restart")
		return nil
	}
	if err := a.reconcile(ctx, reconcileReload, op); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	return nil
}

// reconcile applies op to the current config DB through the syncer (one
// Op, one generation; local only in declarative mode) and logs what it
// changed, by name. The caller holds d.mu.
func (a *App) reconcile(ctx context.Context, trigger string, op *declarative.Reconcile) error {
	d := a.decl
	cur := a.syncer.Current()
	next, err := op.Apply(cur, a.now())
	if err != nil {
		result := resultInvalid
		if errors.Is(err, declarative.ErrWouldDeleteAllUsers) {
			result = resultRefused
		}
		d.count.WithLabelValues(trigger, result).Inc()
		d.log.Error().Err(err).Str("trigger", trigger).Uint64("generation", cur.Generation()).Int("users", cur.NumUsers()).
			Msg("declarative iam not applied: the running IAM is kept")
		return err
	}
	if next == cur {
		d.count.WithLabelValues(trigger, resultUnchanged).Inc()
		d.log.Info().Str("trigger", trigger).Uint64("generation", cur.Generation()).Int("users", cur.NumUsers()).
			Msg("declarative iam unchanged")
		return nil
	}
	plan := declarative.Diff(cur, next)
	// Revocations recorded in the same change, as for the admin API: a user
	// disabled in the file and enabled again does not get its sessions back.
	st, err := a.syncer.Publish(ctx, admin.RevokingOp(op, a.cfg.Access.SessionTTL))
	if err != nil {
		d.count.WithLabelValues(trigger, resultFailed).Inc()
		d.log.Error().Err(err).Str("trigger", trigger).Msg("declarative iam not applied: the config db could not be written")
		return err
	}
	d.count.WithLabelValues(trigger, resultApplied).Inc()
	ev := d.log.Info().Str("trigger", trigger).Uint64("generation", st.Generation()).Int("users", st.NumUsers())
	for _, kind := range []struct{ kind, field string }{
		{declarative.KindUser, "users"}, {declarative.KindGroup, "groups"}, {declarative.KindProvider, "auth_providers"},
	} {
		for _, action := range []struct{ action, field string }{
			{declarative.ActionCreate, "created"}, {declarative.ActionUpdate, "updated"}, {declarative.ActionDelete, "deleted"},
		} {
			if names := plan.Names(kind.kind, action.action); len(names) > 0 {
				ev = ev.Strs(kind.field+"_"+action.field, names)
			}
		}
	}
	ev.Msg("declarative iam applied")
	for _, c := range plan.Changes {
		if c.Action != declarative.ActionUpdate {
			continue
		}
		fields := make([]string, len(c.Fields))
		for i, f := range c.Fields {
			fields[i] = f.String() // never a secret: "secret_access_key: secret changed"
		}
		d.log.Debug().Str("kind", c.Kind).Str("name", c.Name).Strs("changes", fields).Msg("declarative iam update")
	}
	return nil
}
