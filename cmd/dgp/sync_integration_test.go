//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/notifysetup"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestSetupNotificationsOnMinIO runs `dgp sync setup-notifications` as an
// operator would, twice, on a bucket of the harness's MinIO.
func TestSetupNotificationsOnMinIO(t *testing.T) {
	m := testutil.RequireMinIO(t)
	if m.NATSARN == "" {
		t.Skip("DGP_TEST_MINIO_NATS_ARN not set (run through .ci/run)")
	}
	ctx := context.Background()
	c, err := notifysetup.NewClient(ctx, config.S3Settings{Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey, ForcePathStyle: true})
	testutil.Must(t, err, "client")
	bucket := testutil.UniqueName("dgp-cli-notify")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	testutil.Must(t, err, "create bucket")
	t.Cleanup(func() { _, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}) })

	cfg := filepath.Join(t.TempDir(), "dgp.yaml")
	yaml := fmt.Sprintf("advanced:\n  config_sync_bucket: %s\n  config_sync_object_key: iam/fleet.db\n  config_sync_s3:\n    endpoint: %s\n    access_key_id: %s\n    secret_access_key: %s\n    force_path_style: true\n",
		bucket, m.Endpoint, m.AccessKey, m.SecretKey)
	testutil.Must(t, os.WriteFile(cfg, []byte(yaml), 0o600), "write config")

	dgp := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(ctx, append([]string{"sync", "setup-notifications", "--config", cfg}, args...), &out, &errOut); err != nil {
			t.Fatalf("dgp %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	if out := dgp("--nats-arn", m.NATSARN, "--dry-run"); !strings.Contains(out, "would add rule") {
		t.Fatalf("dry run said %q", out)
	}
	if out := dgp("--nats-arn", m.NATSARN); !strings.Contains(out, "added rule") {
		t.Fatalf("first run said %q", out)
	}
	if out := dgp("--nats-arn", m.NATSARN); !strings.Contains(out, "nothing changed") {
		t.Fatalf("second run said %q", out)
	}
	doc, err := notifysetup.Get(ctx, c, bucket)
	testutil.Must(t, err, "get")
	if len(doc.QueueConfigurations) != 1 {
		t.Fatalf("rules: %+v", doc.QueueConfigurations)
	}
	q := doc.QueueConfigurations[0]
	if aws.ToString(q.QueueArn) != m.NATSARN || q.Filter == nil || q.Filter.Key == nil ||
		len(q.Filter.Key.FilterRules) != 1 || aws.ToString(q.Filter.Key.FilterRules[0].Value) != "iam/fleet.db" {
		t.Fatalf("rule written: %+v", q)
	}
}
