package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/notifysetup"
)

const syncUsage = `usage:
  dgp sync setup-notifications (--nats-arn ARN | --sns-topic-arn ARN | --sqs-queue-arn ARN) [--config FILE] [--dry-run]

  Adds to the sync bucket (advanced.config_sync_bucket) a notification rule for
  the config object (advanced.config_sync_object_key): events s3:ObjectCreated:*,
  prefix filter = the key. Every rule already in the bucket is kept; running it
  again changes nothing. The bucket is reached with the sync bucket's settings
  (advanced.config_sync_s3, else the default S3 backend).

  --nats-arn       a MinIO NATS target, arn:minio:sqs::<ID>:nats
  --sns-topic-arn  an SNS topic (AWS: one SQS queue per instance subscribes to it)
  --sqs-queue-arn  an SQS queue (or another queue-style target of the S3 service)
`

// syncCmd runs `dgp sync ...`.
func syncCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("sync: want a subcommand: setup-notifications\n%s", syncUsage)
	}
	switch args[0] {
	case "setup-notifications":
		return setupNotifications(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, syncUsage)
		return nil
	default:
		return usageErr("sync: unknown subcommand %q\n%s", args[0], syncUsage)
	}
}

// setupNotifications adds the config object's notification rule to the
// sync bucket and prints what it changed.
func setupNotifications(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sync setup-notifications", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (default $DGP_CONFIG, else ./deltaglider_proxy.yaml)")
	natsARN := fs.String("nats-arn", "", "MinIO NATS target ARN (arn:minio:sqs::<ID>:nats)")
	snsARN := fs.String("sns-topic-arn", "", "SNS topic ARN")
	sqsARN := fs.String("sqs-queue-arn", "", "SQS queue ARN")
	dryRun := fs.Bool("dry-run", false, "print what would change, change nothing")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageErr("sync setup-notifications: unexpected argument %q\n%s", fs.Arg(0), syncUsage)
	}
	target, err := notificationTarget(*natsARN, *snsARN, *sqsARN)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		return err
	}
	if !cfg.SyncEnabled() {
		return usageErr("sync setup-notifications: no sync bucket: set advanced.config_sync_bucket (DGP_CONFIG_SYNC_BUCKET)")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	client, err := notifysetup.NewClient(ctx, cfg.SyncS3())
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	bucket := cfg.Advanced.ConfigSyncBucket
	rule := notifysetup.Rule{Target: target, Key: cfg.Advanced.ConfigSyncObjectKey}
	res, err := notifysetup.Ensure(ctx, client, bucket, rule, *dryRun)
	if err != nil {
		return err
	}
	for _, o := range res.Overlapping {
		fmt.Fprintf(stderr, "dgp: warning: rule %s also sends object-created events of %q elsewhere (AWS S3 refuses overlapping rules; MinIO accepts them)\n", o, rule.Key)
	}
	summary := res.Summary(bucket, rule)
	if *dryRun && res.Changed {
		summary = fmt.Sprintf("dry run: would add rule %q to bucket %s (%s events of %q to %s %s); nothing written",
			res.ID, bucket, notifysetup.Event, rule.Key, target.Kind, target.ARN)
	}
	fmt.Fprintln(stdout, summary)
	return nil
}

// notificationTarget returns the one target given by the flags.
func notificationTarget(natsARN, snsARN, sqsARN string) (notifysetup.Target, error) {
	type given struct {
		arn   string
		parse func(string) (notifysetup.Target, error)
	}
	var set []given
	for _, g := range []given{
		{natsARN, notifysetup.NATSTarget},
		{snsARN, notifysetup.SNSTopicTarget},
		{sqsARN, notifysetup.SQSQueueTarget},
	} {
		if g.arn != "" {
			set = append(set, g)
		}
	}
	if len(set) != 1 {
		return notifysetup.Target{}, usageErr("sync setup-notifications: give exactly one of --nats-arn, --sns-topic-arn, --sqs-queue-arn\n%s", syncUsage)
	}
	t, err := set[0].parse(strings.TrimSpace(set[0].arn))
	if err != nil {
		return notifysetup.Target{}, &exitError{code: 2, err: err}
	}
	return t, nil
}
