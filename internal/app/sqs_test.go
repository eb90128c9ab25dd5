//go:build integration

package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/notifysetup"
	"github.com/dgp-proxy/dgp/internal/testharness"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// The SQS path with real MinIO events: MinIO's webhook -> a bridge that
// publishes to an SNS topic (goaws) -> one SQS queue per instance (B with
// raw message delivery, C with the SNS envelope) -> each instance pulls. A
// user created on A works on B and C with the poll at an hour; the
// s3:TestEvent AWS sends when a notification configuration is saved is
// deleted, not redelivered.
func TestEventsOverSQS(t *testing.T) {
	// goaws keeps its queues and topics in package globals: no other test
	// of package app starts it.
	goaws, qc, sc := testutil.StartGoaws(t, testharness.GoawsOptions{})
	endpoint := goaws.Endpoint
	ctx := context.Background()

	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(testutil.UniqueName("dgp-sync"))})
	testutil.Must(t, err, "create topic")
	t.Cleanup(func() { _, _ = sc.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: topic.TopicArn}) })
	newQueue := func(raw bool) string {
		out, err := qc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testutil.UniqueName("dgp-instance"))})
		testutil.Must(t, err, "create queue")
		url := aws.ToString(out.QueueUrl)
		t.Cleanup(func() { _, _ = qc.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}) })
		attrs, err := qc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
		})
		testutil.Must(t, err, "queue arn")
		_, err = sc.Subscribe(ctx, &sns.SubscribeInput{
			TopicArn:   topic.TopicArn,
			Protocol:   aws.String("sqs"),
			Endpoint:   aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
			Attributes: map[string]string{"RawMessageDelivery": strconv.FormatBool(raw)},
		})
		testutil.Must(t, err, "subscribe")
		return url
	}
	queueB, queueC := newQueue(true), newQueue(false)

	bridge := httptest.NewServer(testharness.SNSBridge(sc, aws.ToString(topic.TopicArn), nil, func(err error) { t.Errorf("bridge: %v", err) }))
	t.Cleanup(bridge.Close)
	env, arn := testharness.MinIOWebhookTarget("BRIDGE", bridge.URL+"/")
	f := newFleetOn(t, testutil.StartMinIO(t, env...).MinIO)
	target, err := notifysetup.SQSQueueTarget(arn)
	testutil.Must(t, err, "target")
	f.setupNotifications(target)

	// The SQS client of dgp takes its credentials from the AWS default
	// chain: the environment here.
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	withSQS := func(queueURL string) func(*config.Config) {
		return func(c *config.Config) {
			c.Advanced.ConfigSyncRole = config.SyncRoleReader
			c.Advanced.ConfigSyncSQS = config.SQSConfig{QueueURL: queueURL, Endpoint: endpoint, Region: "us-east-1"}
		}
	}
	a := f.start(nil)
	b := f.start(withSQS(queueB))
	c := f.start(withSQS(queueC))
	readers := []struct {
		name  string
		in    *instance
		w     *syncWatcher
		queue string
	}{{"raw", b, watchSync(t, b), queueB}, {"enveloped", c, watchSync(t, c), queueC}}
	for _, r := range readers {
		testutil.RetryUntil(t, eventWait, func() error {
			ok, err := r.w.connected("sqs")
			if err == nil && !ok {
				err = fmt.Errorf("%s: sqs source not connected", r.name)
			}
			return err
		})
	}

	// The test event AWS sends through the topic when a notification
	// configuration is saved: handled once, deleted.
	testEvent := fmt.Sprintf(`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-02T03:04:05.000Z","Bucket":%q,"RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR"}`, f.bucket)
	_, err = sc.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Subject: aws.String("Amazon S3 Notification"), Message: aws.String(testEvent)})
	testutil.Must(t, err, "publish test event")
	for _, r := range readers {
		waitSourceMessages(t, r.w, "test", 1)
		testutil.WaitQueueEmpty(t, qc, r.queue, eventWait)
	}

	adm := a.admin(t)
	adm.login(a.cfg.Access.BootstrapPassword)
	u := adm.createUser("queued", allow([]string{"list"}, "*"))
	for _, r := range readers {
		testutil.RetryUntil(t, eventWait, func() error { return r.in.accepts(u) })
		r.w.assertLastPull(configsync.SourceEvent)
		waitSourceMessages(t, r.w, "applied", 1)
		testutil.WaitQueueEmpty(t, qc, r.queue, eventWait)
		st := r.w.status()
		if n := sourceMessages(st, "test"); n != 1 {
			t.Errorf("%s: test event handled %d times, want once (redelivered?)", r.name, n)
		}
		if n := sourceMessages(st, "malformed"); n != 0 {
			t.Errorf("%s: %d malformed messages", r.name, n)
		}
	}

	adm.must(http.StatusOK, http.MethodPut, "/users/"+u.ID, map[string]any{"enabled": false}, nil)
	waitRefused(t, u, b, c)
	for _, r := range readers {
		r.w.assertLastPull(configsync.SourceEvent)
	}
}

func sourceMessages(st configsync.Status, outcome string) uint64 {
	for _, s := range st.EventSources {
		if s.Name == "sqs" {
			return s.Messages[outcome]
		}
	}
	return 0
}

func waitSourceMessages(t *testing.T, w *syncWatcher, outcome string, atLeast uint64) {
	t.Helper()
	testutil.RetryUntil(t, eventWait, func() error {
		if n := sourceMessages(w.status(), outcome); n < atLeast {
			return fmt.Errorf("%d %s messages, want at least %d", n, outcome, atLeast)
		}
		return nil
	})
}
