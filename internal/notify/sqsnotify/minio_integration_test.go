//go:build integration

package sqsnotify

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/notify"
	"github.com/dgp-proxy/dgp/internal/notify/notifytest"
	"github.com/dgp-proxy/dgp/internal/testharness"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestMinIOWebhookThroughSNS drives the SQS path with real MinIO events:
// MinIO has no SQS target, so a private MinIO posts to a webhook bridge
// that publishes each event body to a goaws SNS topic, as S3 publishes to
// SNS; the topic delivers to this instance's queue in an SNS envelope.
func TestMinIOWebhookThroughSNS(t *testing.T) {
	ctx := context.Background()
	c, sc := testSQS(t), testSNS(t)

	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(testutil.UniqueName("dgp-minio"))})
	testutil.Must(t, err, "create topic")
	q := createQueue(t, c, "dgp-minio")
	attrs, err := c.GetQueueAttributes(ctx, queueArnInput(q))
	testutil.Must(t, err, "queue arn")
	_, err = sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(attrs.Attributes["QueueArn"])})
	testutil.Must(t, err, "subscribe")

	bridge := httptest.NewServer(testharness.SNSBridge(sc, aws.ToString(topic.TopicArn), nil, nil))
	t.Cleanup(bridge.Close)
	env, arn := testharness.MinIOWebhookTarget("BRIDGE", bridge.URL)
	endpoint := testutil.StartMinIO(t, env...).Endpoint
	s3c := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("minioadmin", "minioadmin", ""),
	})
	bucket := testutil.UniqueName("dgp-sqs")
	_, err = s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	testutil.Must(t, err, "create bucket")
	// A MinIO that has just started may not know its notification targets
	// yet ("destination ARN does not exist"): retry until it does.
	testutil.RetryUntil(t, 30*time.Second, func() error {
		_, err := s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
			Bucket: aws.String(bucket),
			NotificationConfiguration: &s3types.NotificationConfiguration{
				QueueConfigurations: []s3types.QueueConfiguration{{
					QueueArn: aws.String(arn),
					Events:   []s3types.Event{"s3:ObjectCreated:*"},
				}},
			},
		})
		return err
	})

	const key = ".deltaglider/config db+1"
	sink := &notifytest.Sink{}
	src := New(sourceClient(t, q, goaws.endpoint), Options{QueueURL: q, WaitTime: 2 * time.Second},
		notify.Filter{Bucket: bucket, Key: key}, sink, zerolog.Nop(), nil)
	notifytest.Start(t, src.Run)

	put := func(k string) string {
		out, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(k)})
		testutil.Must(t, err, "put %s", k)
		return strings.Trim(aws.ToString(out.ETag), `"`)
	}
	put(".deltaglider/other")
	etag := put(key)

	waitMessages(t, src, map[string]uint64{"applied": 1, "irrelevant": 1})
	testutil.WaitQueueEmpty(t, testSQS(t), q, wait)
	hints := sink.Hints()
	if len(hints) != 1 || hints[0].Key != key || hints[0].ETag != etag || hints[0].Bucket != bucket {
		t.Fatalf("hints %+v, want one for %q with etag %s", hints, key, etag)
	}
	for _, k := range []string{key, ".deltaglider/other"} {
		_, _ = s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
	}
	_, _ = s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
}
