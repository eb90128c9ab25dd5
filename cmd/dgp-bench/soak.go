package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/soak"
)

// soakUsage is the soak command's line in the usage.
const soakUsage = `  dgp-bench soak --minio URL --minio-access-key KEY --minio-secret-key SECRET
                 --nats URL --minio-nats-arn ARN [--nats-subject dgp.config-sync]
                 [--duration 3m] [--concurrency 16] [--mutation-interval 1s] [--readers 1]
                 [--sample-interval 5s] [--object-size 4KiB] [--dgp-bin PATH] [--work DIR]
  (dgp-bench soak -h describes every flag)
`

// parseSoakFlags reads the soak command's flags.
func parseSoakFlags(args []string, stderr io.Writer) (soak.Options, error) {
	var o soak.Options
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.MinIOURL, "minio", "", "MinIO endpoint URL: the data bucket and the sync bucket (required)")
	fs.StringVar(&o.MinIOAccessKey, "minio-access-key", "", "MinIO access key (required)")
	fs.StringVar(&o.MinIOSecretKey, "minio-secret-key", "", "MinIO secret key (required)")
	fs.StringVar(&o.NATSURL, "nats", "", "NATS URL where MinIO publishes bucket notifications (required)")
	fs.StringVar(&o.MinIONATSARN, "minio-nats-arn", "", "MinIO's NATS notification target, e.g. arn:minio:sqs::PRIMARY:nats (required)")
	fs.StringVar(&o.NATSSubject, "nats-subject", "dgp.config-sync", "subject of MinIO's NATS target")
	fs.DurationVar(&o.Duration, "duration", 3*time.Minute, "how long the traffic runs")
	fs.IntVar(&o.Concurrency, "concurrency", 4*runtime.NumCPU(), "S3 workers, spread over the instances")
	fs.DurationVar(&o.MutationInterval, "mutation-interval", time.Second, "one IAM mutation on the writer per interval")
	fs.IntVar(&o.Readers, "readers", 1, "reader instances besides the writer")
	fs.DurationVar(&o.SampleInterval, "sample-interval", 0, "resource samples (default duration/20, within 1s-5s)")
	size := fs.String("object-size", "4KiB", "size of the objects")
	fs.StringVar(&o.DGPBin, "dgp-bin", "", "dgp binary (default: built from this module)")
	fs.StringVar(&o.WorkDir, "work", "", "directory for the instances' data and logs (default: a temporary one, removed)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, &exitError{code: 2, err: err}
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if o.MinIOURL == "" || o.MinIOAccessKey == "" || o.MinIOSecretKey == "" || o.NATSURL == "" || o.MinIONATSARN == "" {
		problems = append(problems, "--minio, --minio-access-key, --minio-secret-key, --nats and --minio-nats-arn are required")
	}
	if o.Duration <= 0 || o.Concurrency < 1 || o.MutationInterval <= 0 || o.Readers < 1 || o.SampleInterval < 0 {
		problems = append(problems, "--duration and --mutation-interval must be positive, --concurrency and --readers at least 1")
	}
	n, err := parseSize(*size)
	if err != nil || n < 1 || n > 64<<20 {
		problems = append(problems, fmt.Sprintf("--object-size %q: want 1 B to 64 MiB", *size))
	}
	o.ObjectSize = int(n)
	if len(problems) > 0 {
		return o, usageErr("soak: %s", strings.Join(problems, "; "))
	}
	return o, nil
}

// soakCmd is the soak command.
func soakCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseSoakFlags(args, stderr)
	if err != nil {
		return err
	}
	return runSoak(ctx, o, stdout, stderr)
}

// runSoak runs the soak, printing the samples as they come on stderr and
// the report on stdout. Unexpected failures or a resource that grew make
// it fail (exit 1) after the report.
func runSoak(ctx context.Context, o soak.Options, stdout, stderr io.Writer) error {
	o.Progress = stderr
	res, err := soak.Run(ctx, o)
	if err != nil {
		return err
	}
	soak.WriteReport(stdout, res)
	if err := res.Failed(); err != nil {
		return fmt.Errorf("soak failed: %w", err)
	}
	return nil
}
