// Command dgp-bench measures dgp against the servers it stands in front of.
//
//	dgp-bench gateway --minio URL [flags]   throughput of MinIO direct, a bare
//	                                        reverse proxy and dgp, interleaved
//	                                        in one run; SigV4 cost; allocations
//
// It prints a markdown report on stdout. It is a benchmark, not a test: it
// asserts nothing about speed, but any failed request makes it exit 1.
// Exit codes: 0 success, 1 a request or setup failed, 2 bad usage.
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
	"testing"
)

// exitError carries an exit code through to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

const usage = `usage:
  dgp-bench gateway --minio URL --minio-access-key KEY --minio-secret-key SECRET
                    [--duration 10s] [--rounds 5] [--concurrency 8] [--large-count 3]
                    [--large-size 64MiB] [--small-size 4KiB] [--workloads LIST]
                    [--cpuprofile FILE] [--allocs=true] [--processes] [--paired-rounds 5] [-v]
  (dgp-bench gateway -h describes every flag)
`

func main() {
	// testing.Benchmark reads the testing package's flags; register them
	// (on flag.CommandLine, which dgp-bench does not parse).
	testing.Init()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintln(os.Stderr, "dgp-bench:", err)
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("want a command\n%s", usage)
	}
	switch args[0] {
	case "gateway":
		opts, err := parseGatewayFlags(args[1:], stderr)
		if err != nil {
			return err
		}
		return runGateway(ctx, opts, stdout, stderr)
	case "gateway-target": // a server of `gateway --processes` (gatewaytarget.go)
		return gatewayTargetCmd(ctx, args[1:], os.Stdin, stdout, stderr)
	case "soak":
		return soakCmd(ctx, args[1:], stdout, stderr)
	case "listing":
		return listingCmd(ctx, args[1:], stdout, stderr)
	case "replication":
		return replicationCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage+soakUsage+listingUsage+replicationUsage)
		return nil
	default:
		return usageErr("unknown command %q\n%s", args[0], usage)
	}
}
