package testutil

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dgp-proxy/dgp/internal/testharness"
)

// QueueDepth counts every message of the queue, in-flight ones included
// (goaws counts them too), so zero means every message was deleted.
func QueueDepth(ctx context.Context, c *sqs.Client, queueURL string) (int, error) {
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
}

// WaitQueueEmpty fails the test unless the queue holds no message (in
// flight or not) within timeout.
func WaitQueueEmpty(t testing.TB, c *sqs.Client, queueURL string, timeout time.Duration) {
	t.Helper()
	RetryUntil(t, timeout, func() error {
		n, err := QueueDepth(context.Background(), c, queueURL)
		if err == nil && n != 0 {
			err = fmt.Errorf("%d messages left in %s", n, queueURL)
		}
		return err
	})
}

// AWSTestConfig returns an AWS config for emulators: region us-east-1,
// static credentials "test"/"test".
func AWSTestConfig(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(),
		awsconfig.WithRegion("us-east-1"),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	Must(t, err, "aws config")
	return cfg
}

// StartGoaws serves goaws for the test, closed when it ends, and returns
// SQS and SNS clients for it. goaws keeps its state in package variables:
// one per test binary at a time.
func StartGoaws(t testing.TB, o testharness.GoawsOptions) (*testharness.Goaws, *sqs.Client, *sns.Client) {
	t.Helper()
	g, err := testharness.StartGoaws(o)
	Must(t, err, "start goaws")
	t.Cleanup(g.Close)
	cfg := AWSTestConfig(t)
	return g, sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(g.Endpoint) }),
		sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(g.Endpoint) })
}
