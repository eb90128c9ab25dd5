package sqsnotify

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dgp-proxy/dgp/internal/testharness"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// goaws keeps its queues and topics in package globals, so the test binary
// runs one goaws, served on 127.0.0.1 by TestMain; tests use unique queue
// and topic names.
var goaws struct {
	handler  http.Handler
	endpoint string
}

// visibilityTimeout of test queues: a message received but not deleted
// reappears after this many seconds.
const visibilityTimeout = 1

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// RequeueEvery makes received-but-undeleted messages visible again, as
	// SQS does.
	g, err := testharness.StartGoaws(testharness.GoawsOptions{VisibilityTimeout: visibilityTimeout, RequeueEvery: 100 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "goaws:", err)
		return 1
	}
	defer g.Close()
	goaws.handler, goaws.endpoint = g.Handler, g.Endpoint
	return m.Run()
}

// testSQS is an SQS client for setting up and inspecting goaws.
func testSQS(t *testing.T) *sqs.Client {
	return sqs.NewFromConfig(testutil.AWSTestConfig(t), func(o *sqs.Options) { o.BaseEndpoint = aws.String(goaws.endpoint) })
}

func testSNS(t *testing.T) *sns.Client {
	return sns.NewFromConfig(testutil.AWSTestConfig(t), func(o *sns.Options) { o.BaseEndpoint = aws.String(goaws.endpoint) })
}

// sourceClient builds the client under test with NewClient, pointed at
// endpoint, without SDK retries so every failure reaches the source.
func sourceClient(t *testing.T, queueURL, endpoint string) *sqs.Client {
	t.Helper()
	c, err := NewClient(context.Background(), queueURL, "us-east-1", endpoint,
		WithStaticCredentials("test", "test", ""),
		WithSQSOptions(func(o *sqs.Options) { o.RetryMaxAttempts = 1 }))
	testutil.Must(t, err, "new client")
	return c
}

func createQueue(t *testing.T, c *sqs.Client, prefix string) string {
	t.Helper()
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(testutil.UniqueName(prefix))})
	testutil.Must(t, err, "create queue")
	url := aws.ToString(out.QueueUrl)
	t.Cleanup(func() {
		_, _ = c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
	})
	return url
}

func send(t *testing.T, c *sqs.Client, queueURL string, body []byte) {
	t.Helper()
	_, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(string(body))})
	testutil.Must(t, err, "send message")
}

func queueArnInput(queueURL string) *sqs.GetQueueAttributesInput {
	return &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	}
}
