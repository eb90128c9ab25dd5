//go:build integration

package notifysetup

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/nats-io/nats.go"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// minioSetup returns a client for the harness's MinIO (built with NewClient
// from dgp settings) and a fresh bucket removed at cleanup.
func minioSetup(t *testing.T) (*s3.Client, string, testutil.MinIO) {
	t.Helper()
	m := testutil.RequireMinIO(t)
	ctx := context.Background()
	c, err := NewClient(ctx, config.S3Settings{Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey, ForcePathStyle: true})
	testutil.Must(t, err, "client")
	bucket := testutil.UniqueName("dgp-notifysetup")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	testutil.Must(t, err, "create bucket")
	t.Cleanup(func() {
		out, _ := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if out != nil {
			for _, o := range out.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			}
		}
		_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})
	return c, bucket, m
}

// TestEnsureOnMinIO adds dgp's rule next to an existing one, checks that
// both are in the document and both deliver, and that a second run writes
// nothing.
func TestEnsureOnMinIO(t *testing.T) {
	c, bucket, m := minioSetup(t)
	natsURL, subject := os.Getenv("DGP_TEST_NATS_URL"), os.Getenv("DGP_TEST_NATS_SUBJECT")
	if m.NATSARN == "" || natsURL == "" || subject == "" {
		t.Skip("DGP_TEST_MINIO_NATS_ARN, DGP_TEST_NATS_URL or DGP_TEST_NATS_SUBJECT not set (run through .ci/run)")
	}
	ctx := context.Background()
	const other = "reports/"
	_, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(bucket),
		NotificationConfiguration: &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{
			queue("reports", m.NATSARN, prefixFilter("prefix", other), "s3:ObjectCreated:*"),
		}},
	})
	testutil.Must(t, err, "put the existing rule")

	target := mustTarget(t, NATSTarget, m.NATSARN)
	rule := Rule{Target: target, Key: key}

	// A dry run reports the change and writes nothing.
	res, err := Ensure(ctx, c, bucket, rule, true)
	testutil.Must(t, err, "dry run")
	if !res.Changed || res.Kept != 1 {
		t.Fatalf("dry run result %+v", res)
	}
	if doc, err := Get(ctx, c, bucket); err != nil || len(doc.QueueConfigurations) != 1 {
		t.Fatalf("dry run wrote: %+v %v", doc, err)
	}

	res, err = Ensure(ctx, c, bucket, rule, false)
	testutil.Must(t, err, "ensure")
	if !res.Changed || res.Kept != 1 || res.ID != rule.id() || len(res.Overlapping) != 0 {
		t.Fatalf("first run %+v", res)
	}
	doc, err := Get(ctx, c, bucket)
	testutil.Must(t, err, "get")
	var ids []string
	for _, q := range doc.QueueConfigurations {
		ids = append(ids, aws.ToString(q.Id))
		if aws.ToString(q.QueueArn) != m.NATSARN {
			t.Errorf("rule %s has arn %s", aws.ToString(q.Id), aws.ToString(q.QueueArn))
		}
	}
	if !slices.Equal(ids, []string{"reports", rule.id()}) {
		t.Fatalf("rules in the bucket: %v", ids)
	}

	res, err = Ensure(ctx, c, bucket, rule, false)
	testutil.Must(t, err, "second run")
	if res.Changed || res.ID != rule.id() || res.Kept != 2 {
		t.Fatalf("second run %+v", res)
	}
	if doc2, err := Get(ctx, c, bucket); err != nil || len(doc2.QueueConfigurations) != 2 {
		t.Fatalf("second run changed the document: %+v %v", doc2, err)
	}

	// Both rules deliver: the config object's creation and the other
	// rule's object reach NATS; an object matching neither does not.
	nc, err := nats.Connect(natsURL)
	testutil.Must(t, err, "nats connect")
	t.Cleanup(nc.Close)
	var mu sync.Mutex
	var keys []string
	sub, err := nc.Subscribe(subject, func(msg *nats.Msg) {
		var ev struct{ Key string }
		if json.Unmarshal(msg.Data, &ev) != nil {
			return
		}
		// MinIO's top-level Key is "bucket/key", query-escaped or not.
		k, err := url.QueryUnescape(ev.Key)
		if err == nil && strings.HasPrefix(k, bucket+"/") {
			mu.Lock()
			keys = append(keys, strings.TrimPrefix(k, bucket+"/"))
			mu.Unlock()
		}
	})
	testutil.Must(t, err, "subscribe")
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	testutil.Must(t, nc.Flush(), "flush")
	for _, k := range []string{"unrelated/x", other + "r1", key} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(k)})
		testutil.Must(t, err, "put %s", k)
	}
	testutil.RetryUntil(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(keys) < 2 {
			return fmt.Errorf("events so far for %v", keys)
		}
		return nil
	})
	mu.Lock()
	got := slices.Clone(keys)
	mu.Unlock()
	slices.Sort(got)
	if !slices.Equal(got, []string{key, other + "r1"}) {
		t.Fatalf("events for %v", got)
	}
}

// TestEnsureRefusedChangesNothing: MinIO refuses SNS topics; the error
// says so and the document is untouched. A missing bucket is an error.
func TestEnsureRefusedChangesNothing(t *testing.T) {
	c, bucket, _ := minioSetup(t)
	ctx := context.Background()
	_, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket:                    aws.String(bucket),
		NotificationConfiguration: &types.NotificationConfiguration{},
	})
	testutil.Must(t, err, "reset")
	topic := mustTarget(t, SNSTopicTarget, topicARN)
	if _, err := Ensure(ctx, c, bucket, Rule{Target: topic, Key: key}, false); err == nil || !strings.Contains(err.Error(), bucket) {
		t.Fatalf("topic on MinIO: %v", err)
	}
	doc, err := Get(ctx, c, bucket)
	testutil.Must(t, err, "get")
	if len(doc.QueueConfigurations)+len(doc.TopicConfigurations) != 0 {
		t.Fatalf("document changed: %+v", doc)
	}
	if _, err := Ensure(ctx, c, bucket+"-missing", Rule{Target: topic, Key: key}, false); err == nil {
		t.Fatal("missing bucket accepted")
	}
}

func mustTarget(t *testing.T, f func(string) (Target, error), arn string) Target {
	t.Helper()
	tg, err := f(arn)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}
