package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dgp-proxy/dgp/internal/app"
	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/declarative"
)

// planChangesExit is the exit status of `dgp iam plan` when the plan has
// changes (0: none; 1: any error).
const planChangesExit = 2

// iamCmd runs `dgp iam export` and `dgp iam plan`.
func iamCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("iam: want a subcommand: export or plan\n%s", usage)
	}
	switch args[0] {
	case "export":
		return iamExport(args[1:], stdout, stderr)
	case "plan":
		err := iamPlan(args[1:], stdout, stderr)
		var ee *exitError
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return err
		case errors.As(err, &ee) && ee.code == planChangesExit && errors.Is(ee.err, errPlanHasChanges):
			return err
		case errors.As(err, &ee):
			return &exitError{code: 1, err: ee.err} // 2 means "changes" here
		default:
			return &exitError{code: 1, err: err}
		}
	default:
		return usageErr("iam: unknown subcommand %q\n%s", args[0], usage)
	}
}

// errPlanHasChanges is reported (exit status 2) when a reconcile would
// change the config DB.
var errPlanHasChanges = errors.New("the config db differs from the declared IAM: a reconcile would apply this plan")

// iamExport prints the IAM of the instance's config DB as declarative YAML.
func iamExport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("iam export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (for the bootstrap secret and data dir)")
	show := fs.Bool("show-secrets", false, "print secret access keys and client secrets in clear instead of ${VAR} placeholders")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageErr("iam export: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		return err
	}
	st, err := openLocalDB(cfg, stderr)
	if err != nil {
		return err
	}
	doc, _, err := declarative.Export(st, *show)
	if err != nil {
		return err
	}
	_, err = stdout.Write(doc)
	return err
}

// iamPlan prints what a reconcile of the configuration's declared IAM
// would change in the instance's config DB, then the jobs plan: the
// configuration's replication and lifecycle rules and what the fleet's
// lease and state objects say of them (read only: no lease is taken).
// Only IAM changes make the exit status 2.
func iamPlan(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("iam plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (default $DGP_CONFIG, else ./deltaglider_proxy.yaml)")
	offline := fs.Bool("offline", false, "do not read the fleet's job lease and state objects (sync bucket or data dir)")
	preview := fs.Bool("lifecycle-preview", false, "preview each lifecycle rule (lists its scope on the storage backends; writes nothing)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("iam plan: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		return err
	}
	rules := declarative.JobRules(cfg)
	var planErr error
	if cfg.Access.IAMMode != config.IAMModeDeclarative {
		if len(rules) == 0 {
			return fmt.Errorf("iam plan: access.iam_mode is %s, not declarative: there is nothing to plan", cfg.Access.IAMMode)
		}
		fmt.Fprintf(stdout, "IAM: access.iam_mode is %s, not declarative: no IAM plan.\n", cfg.Access.IAMMode)
	} else if planErr = planIAM(cfg, stdout, stderr); planErr != nil && !errors.Is(planErr, errPlanHasChanges) {
		return planErr
	}
	fmt.Fprintln(stdout)
	if err := planJobs(cfg, rules, *offline, *preview, stdout, stderr); err != nil {
		return err
	}
	if planErr != nil {
		return &exitError{code: planChangesExit, err: planErr}
	}
	return nil
}

// planIAM prints the IAM plan; errPlanHasChanges when it has changes.
func planIAM(cfg *config.Config, stdout, stderr io.Writer) error {
	want, err := declarative.FromConfig(cfg)
	if err != nil {
		return fmt.Errorf("invalid declared iam:\n%w", err)
	}
	op, err := declarative.NewReconcile(want)
	if err != nil {
		return fmt.Errorf("invalid declared iam:\n%w", err)
	}
	cur, err := openLocalDB(cfg, stderr)
	if err != nil {
		return err
	}
	next, err := op.Apply(cur, time.Now())
	if err != nil {
		return fmt.Errorf("a reconcile would be refused: %w", err)
	}
	plan := declarative.Diff(cur, next)
	if err := plan.Write(stdout); err != nil {
		return err
	}
	if next != cur {
		return errPlanHasChanges
	}
	return nil
}

// openLocalDB opens the config DB file in the data dir with the bootstrap
// secret; no file yet is the empty state.
func openLocalDB(cfg *config.Config, stderr io.Writer) (*configdb.State, error) {
	path := filepath.Join(cfg.Advanced.DataDir, app.ConfigDBFile)
	b, err := configdb.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "dgp: no config db at %s yet: the state is empty\n", path)
		return configdb.Empty(), nil
	}
	if err != nil {
		return nil, err
	}
	boot, err := app.LoadBootstrap(cfg)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	st, hdr, err := configdb.Open(b, configdb.NewKeyCache(1), boot.Secret)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	fmt.Fprintf(stderr, "dgp: %s: generation %d, %d users\n", path, hdr.Generation, st.NumUsers())
	return st, nil
}

// reloader is what runReloading needs of the app.
type reloader interface {
	Run(ctx context.Context) error
	Reload(ctx context.Context) error
}

// runReloading runs a until ctx ends, calling a.Reload for every signal on
// hup (SIGHUP: re-read the config file and reconcile declarative IAM; a
// failed reload is logged by the app and changes nothing). The reload
// loop stops, and is waited for, before it returns.
func runReloading(ctx context.Context, a reloader, hup <-chan os.Signal) error {
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-rctx.Done():
				return
			case <-hup:
				_ = a.Reload(rctx)
			}
		}
	}()
	err := a.Run(ctx)
	cancel()
	wg.Wait()
	return err
}
