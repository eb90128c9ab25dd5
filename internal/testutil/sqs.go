package testutil

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
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
