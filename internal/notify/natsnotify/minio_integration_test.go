//go:build integration

package natsnotify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/notify"
	"github.com/dgp-proxy/dgp/internal/notify/notifytest"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestMinIOEventsReachSink drives the whole path with real servers: a
// PutObject on MinIO -> MinIO's NATS target -> this source -> the sink, with
// a key that needs encoding (space, plus, slash).
func TestMinIOEventsReachSink(t *testing.T) {
	m := testutil.RequireMinIO(t)
	natsURL, natsSubject := os.Getenv("DGP_TEST_NATS_URL"), os.Getenv("DGP_TEST_NATS_SUBJECT")
	if natsURL == "" || natsSubject == "" || m.NATSARN == "" {
		t.Skip("DGP_TEST_NATS_URL, DGP_TEST_NATS_SUBJECT or DGP_TEST_MINIO_NATS_ARN not set (run through .ci/run)")
	}
	ctx := context.Background()
	s3c := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
	bucket := testutil.UniqueName("dgp-notify")
	_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	testutil.Must(t, err, "create bucket")
	const key = "sync dir/config+1.db"
	const otherKey = "sync dir/other.db"
	t.Cleanup(func() {
		for _, k := range []string{key, otherKey} {
			_, _ = s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		}
		_, _ = s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})
	_, err = s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{
			QueueConfigurations: []s3types.QueueConfiguration{{
				QueueArn: aws.String(m.NATSARN),
				Events:   []s3types.Event{"s3:ObjectCreated:*", "s3:ObjectRemoved:*"},
			}},
		},
	})
	testutil.Must(t, err, "put bucket notification")

	sink := &notifytest.Sink{}
	src := New(Options{URL: natsURL, Subject: natsSubject}, notify.Filter{Bucket: bucket, Key: key}, sink, zerolog.Nop(), nil)
	notifytest.Start(t, src.Run)
	testutil.RetryUntil(t, 30*time.Second, func() error {
		if len(sink.Resyncs()) == 0 || !src.Status().Connected {
			return errors.New("not connected yet")
		}
		return nil
	})

	put := func(k, body string) string {
		out, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(body)})
		testutil.Must(t, err, "put %s", k)
		return strings.Trim(aws.ToString(out.ETag), `"`)
	}
	put(otherKey, "other")
	etag1 := put(key, "generation 1")
	_, err = s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	testutil.Must(t, err, "delete")
	etag2 := put(key, "generation 2")

	testutil.RetryUntil(t, 30*time.Second, func() error {
		if n := len(sink.Hints()); n < 2 {
			return fmt.Errorf("%d hints so far", n)
		}
		return nil
	})
	hints := sink.Hints()
	if len(hints) != 2 {
		t.Fatalf("got %d hints %+v, want 2 (the other key and the removal must be dropped)", len(hints), hints)
	}
	for i, want := range []string{etag1, etag2} {
		h := hints[i]
		if h.Bucket != bucket || h.Key != key || h.ETag != want || !notify.IsCreated(h.EventName) || h.EventTime.IsZero() || h.Sequencer == "" {
			t.Errorf("hint %d = %+v, want key %q etag %q", i, h, key, want)
		}
	}
	testutil.RetryUntil(t, 30*time.Second, func() error {
		if st := src.Status(); st.Messages["irrelevant"] < 2 || st.Messages["applied"] != 2 {
			return fmt.Errorf("status messages %v, want 2 applied and at least 2 irrelevant", st.Messages)
		}
		return nil
	})
}
