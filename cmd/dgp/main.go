// Command dgp is an S3 proxy with IAM that runs as a fleet.
//
//	dgp [serve] [--config FILE] [--listen ADDR]   run the proxy (default)
//	dgp config check [--config FILE] [--print]    validate the configuration
//	dgp config decrypt [--show-secrets] FILE      print a config DB as JSON
//	dgp iam export [--config FILE] [--show-secrets] print the config DB's IAM as declarative YAML
//	dgp iam plan [--config FILE] [--offline] [--lifecycle-preview] what a declarative reconcile would change (exit 2: changes), and the jobs plan
//	dgp version
//
// Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dgp-proxy/dgp/internal/app"
	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/gcfloor"
	"github.com/dgp-proxy/dgp/internal/obs"
	"github.com/dgp-proxy/dgp/internal/rawio"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries an exit code through to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "dgp:", err)
	} else {
		code = 0
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stderr)
	case "config":
		return configCmd(ctx, args, stdout, stderr)
	case "sync":
		return syncCmd(ctx, args, stdout, stderr)
	case "iam":
		return iamCmd(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "dgp", version)
		return nil
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usageErr("unknown command %q\n%s", cmd, usage)
	}
}

const usage = `usage:
  dgp [serve] [--config FILE] [--listen ADDR]   run the proxy (the default command)
  dgp config check [--config FILE] [--print]    validate the configuration, print it redacted
  dgp config decrypt [--show-secrets] FILE      print a config DB file as JSON (needs the bootstrap secret:
                                                DGP_BOOTSTRAP_PASSWORD, _HASH, or the data dir's kept one)
  dgp sync setup-notifications (--nats-arn ARN | --sns-topic-arn ARN | --sqs-queue-arn ARN) [--config FILE] [--dry-run]
  dgp iam export [--config FILE] [--show-secrets]
                                                print the config DB's IAM as declarative YAML (access.iam),
                                                secrets as ${VAR} placeholders unless --show-secrets
  dgp iam plan [--config FILE] [--offline]      print what a declarative reconcile would change;
                                                exit 0: no changes, 2: changes, 1: error; then the
                                                jobs plan: replication and lifecycle rules, their
                                                hashes, and what the fleet's lease and state objects
                                                say of them (read only; --offline: not read;
                                                --lifecycle-preview: each lifecycle rule's preview)
  dgp version

In serve, SIGHUP re-reads the config file and applies access.iam (iam_mode: declarative).
`

// loadConfig reads the config file (flag, else DGP_CONFIG, else
// ./deltaglider_proxy.yaml) and the environment; warnings go to stderr.
func loadConfig(path string, stderr io.Writer) (*config.Config, error) {
	cfg, warnings, err := config.LoadEnviron(path, os.Environ())
	for _, w := range warnings {
		fmt.Fprintln(stderr, "dgp: warning:", w)
	}
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("invalid configuration:\n%w", err)}
	}
	return cfg, nil
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (default $DGP_CONFIG, else ./deltaglider_proxy.yaml)")
	listen := fs.String("listen", "", "listen address (overrides advanced.listen_addr / DGP_LISTEN_ADDR)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageErr("serve: unexpected argument %q", fs.Arg(0))
	}
	hup := make(chan os.Signal, 1) // SIGHUP: reload declarative IAM (runReloading, iam.go)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Advanced.ListenAddr = *listen
		if err := cfg.Validate(); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("invalid configuration:\n%w", err)}
		}
	}
	logOut := stderr
	if f, ok := stderr.(*os.File); ok {
		// On a pipe (containers, a parent reading the output) the log
		// lines are written with raw system calls, so that an idle
		// instance applying an IAM change does not wake the runtime's
		// monitor thread for its log line (internal/rawio).
		var done func()
		logOut, done = rawio.LogOutput(f)
		defer done()
	}
	logger, err := obs.NewLogger(logOut, obs.LogOptions{Level: cfg.Advanced.LogLevel, Format: cfg.Advanced.LogFormat})
	if err != nil {
		return &exitError{code: 2, err: err}
	}

	// The collector waits for at least 16 MiB of new allocation (unless
	// GOGC is set): an idle instance's heap is a few MiB, and collecting
	// every few MiB cost a reader more CPU than applying an IAM change.
	floor := gcfloor.Start(0)
	defer floor.Stop()
	if floor != nil {
		logger.Debug().Int("heap_floor_mib", gcfloor.DefaultFloor>>20).Msg("gc heap floor set")
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: logger, Stderr: stderr, ConfigFile: *cfgPath, Version: version})
	if err != nil {
		logger.Error().Err(err).Msg("startup failed")
		return err
	}
	return runReloading(ctx, a, hup)
}

func configCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("config: want a subcommand: check or decrypt\n%s", usage)
	}
	switch args[0] {
	case "check":
		fs := flag.NewFlagSet("config check", flag.ContinueOnError)
		fs.SetOutput(stderr)
		cfgPath := fs.String("config", "", "config file (default $DGP_CONFIG, else ./deltaglider_proxy.yaml)")
		print := fs.Bool("print", false, "print the effective configuration, secrets redacted")
		if err := fs.Parse(args[1:]); err != nil {
			return &exitError{code: 2, err: err}
		}
		cfg, err := loadConfig(*cfgPath, stderr)
		if err != nil {
			return err
		}
		if *print {
			b, err := cfg.Redacted().YAML()
			if err != nil {
				return err
			}
			_, _ = stdout.Write(b)
		}
		fmt.Fprintln(stderr, "dgp: configuration is valid")
		return nil
	case "decrypt":
		return configDecrypt(args[1:], stdout, stderr)
	default:
		return usageErr("config: unknown subcommand %q\n%s", args[0], usage)
	}
}

// configDecrypt prints a sealed config DB (the local file or a copy of the
// sync object) as JSON: the disaster-recovery path for an operator who holds
// only the file and the bootstrap secret.
func configDecrypt(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config decrypt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (for the bootstrap secret and data dir)")
	show := fs.Bool("show-secrets", false, "print secret access keys and client secrets in clear")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() != 1 {
		return usageErr("config decrypt: want exactly one FILE")
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		return err
	}
	boot, err := app.LoadBootstrap(cfg)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	b, err := configdb.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	st, hdr, err := configdb.Open(b, configdb.NewKeyCache(1), boot.Secret)
	if err != nil {
		return fmt.Errorf("open %s: %w", fs.Arg(0), err)
	}
	out, err := st.MarshalJSONView(*show)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "dgp: %s: schema %d, generation %d, written by %s at %s\n",
		fs.Arg(0), hdr.Schema, hdr.Generation, hdr.WriterNode, hdr.SealedAt.Format(time.RFC3339))
	_, _ = stdout.Write(append(out, '\n'))
	return nil
}
