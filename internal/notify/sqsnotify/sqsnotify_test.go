package sqsnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/notify"
	"github.com/dgp-proxy/dgp/internal/notify/notifytest"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

const (
	fixtureETag = "9b2cf535f27731c974343645a3985328"
	wait        = 30 * time.Second
)

var filter = notify.Filter{Bucket: "dgp-iam-sync", Key: ".deltaglider/config.db"}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	testutil.Must(t, err, "read fixture")
	return b
}

func waitMessages(t *testing.T, src *Source, want map[string]uint64) {
	t.Helper()
	testutil.RetryUntil(t, wait, func() error {
		st := src.Status()
		for k, v := range want {
			if st.Messages[k] != v {
				return fmt.Errorf("messages %v, want %v", st.Messages, want)
			}
		}
		return nil
	})
}

func assertHints(t *testing.T, sink *notifytest.Sink, n int) {
	t.Helper()
	hints := sink.Hints()
	if len(hints) != n {
		t.Fatalf("got %d hints %+v, want %d", len(hints), hints, n)
	}
	for i, h := range hints {
		if h.ETag != fixtureETag || h.Bucket != filter.Bucket || h.Key != filter.Key {
			t.Errorf("hint %d = %+v", i, h)
		}
		if s := sink.Sources()[i]; s != SourceName {
			t.Errorf("hint %d from source %q", i, s)
		}
	}
}

func TestRawAndEnvelopedMessagesAreHandledAndDeleted(t *testing.T) {
	c := testSQS(t)
	q := createQueue(t, c, "dgp-raw")
	removed := strings.Replace(string(fixture(t, "aws-s3-direct-put.json")), "ObjectCreated:Put", "ObjectRemoved:Delete", 1)
	otherKey := strings.Replace(string(fixture(t, "aws-s3-direct-put.json")), "config.db", "config.db.bak", 1)
	for _, body := range [][]byte{
		fixture(t, "aws-s3-direct-put.json"),
		fixture(t, "aws-sns-envelope-put.json"),
		fixture(t, "aws-eventbridge-object-created.json"),
		fixture(t, "aws-s3-test-event.json"),
		[]byte(removed),
		[]byte(otherKey),
		[]byte("this is not an event"),
	} {
		send(t, c, q, body)
	}

	sink := &notifytest.Sink{}
	var logs testutil.LogBuffer
	src := New(sourceClient(t, q, goaws.endpoint), Options{QueueURL: q, WaitTime: 2 * time.Second},
		filter, sink, zerolog.New(&logs), notify.NewMetrics(nil))
	notifytest.Start(t, src.Run)

	waitMessages(t, src, map[string]uint64{"applied": 3, "irrelevant": 2, "test": 1, "malformed": 1})
	testutil.WaitQueueEmpty(t, testSQS(t), q, wait)
	assertHints(t, sink, 3)
	st := src.Status()
	if !st.Connected || st.LastError != "" || st.LastMessage.IsZero() {
		t.Errorf("status %+v", st)
	}
	// Handling messages asks for no resync. A receive that failed on the
	// way (the emulator, under a loaded CI machine, closed a connection
	// once) is followed by one "reachable" resync, as designed: allowed,
	// one per failure the source logged.
	failures := strings.Count(logs.String(), "event source unavailable")
	for i, r := range sink.Resyncs() {
		if r.Reason != notify.ReasonReachable || i >= failures {
			t.Errorf("resync %+v after %d failed receives; log:\n%s", r, failures, logs.String())
		}
	}
}

func TestTestEventIsDeletedNotRedelivered(t *testing.T) {
	c := testSQS(t)
	q := createQueue(t, c, "dgp-test-event")
	send(t, c, q, fixture(t, "aws-s3-test-event.json"))

	sink := &notifytest.Sink{}
	src := New(sourceClient(t, q, goaws.endpoint), Options{QueueURL: q, WaitTime: time.Second}, filter, sink, zerolog.Nop(), nil)
	notifytest.Start(t, src.Run)
	waitMessages(t, src, map[string]uint64{"test": 1})
	// goaws counts in-flight messages too: zero means deleted, not hidden.
	testutil.WaitQueueEmpty(t, testSQS(t), q, wait)
	if st := src.Status(); st.Messages["test"] != 1 {
		t.Errorf("test event handled %d times, want once", st.Messages["test"])
	}
	assertHints(t, sink, 0)
	if rs := sink.Resyncs(); len(rs) != 0 {
		t.Errorf("resyncs %+v", rs)
	}
}

func TestSNSFanOutReachesEveryQueue(t *testing.T) {
	c := testSQS(t)
	sc := testSNS(t)
	ctx := context.Background()
	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(testutil.UniqueName("dgp-topic"))})
	testutil.Must(t, err, "create topic")
	t.Cleanup(func() { _, _ = sc.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: topic.TopicArn}) })

	// One queue per instance; one with raw delivery (the S3 JSON as is),
	// one without (the SNS envelope).
	type instance struct {
		raw   bool
		queue string
		sink  *notifytest.Sink
		src   *Source
	}
	instances := []*instance{{raw: true}, {raw: false}}
	for _, in := range instances {
		in.queue = createQueue(t, c, "dgp-fanout")
		attrs, err := c.GetQueueAttributes(ctx, queueArnInput(in.queue))
		testutil.Must(t, err, "queue arn")
		_, err = sc.Subscribe(ctx, &sns.SubscribeInput{
			TopicArn:   topic.TopicArn,
			Protocol:   aws.String("sqs"),
			Endpoint:   aws.String(attrs.Attributes["QueueArn"]),
			Attributes: map[string]string{"RawMessageDelivery": fmt.Sprint(in.raw)},
		})
		testutil.Must(t, err, "subscribe")
		in.sink = &notifytest.Sink{}
		// Default long poll (20 s): the message arrives while it waits.
		in.src = New(sourceClient(t, in.queue, goaws.endpoint), Options{QueueURL: in.queue}, filter, in.sink, zerolog.Nop(), nil)
		notifytest.Start(t, in.src.Run)
		testutil.RetryUntil(t, wait, func() error {
			if !in.src.Status().Connected {
				return errors.New("not connected")
			}
			return nil
		})
	}

	_, err = sc.Publish(ctx, &sns.PublishInput{
		TopicArn: topic.TopicArn,
		Subject:  aws.String("Amazon S3 Notification"),
		Message:  aws.String(string(fixture(t, "aws-s3-direct-put.json"))),
	})
	testutil.Must(t, err, "publish")

	for _, in := range instances {
		waitMessages(t, in.src, map[string]uint64{"applied": 1})
		testutil.WaitQueueEmpty(t, testSQS(t), in.queue, wait)
		assertHints(t, in.sink, 1)
	}
}

// blockingSleeper hands each requested wait to the test and returns when
// the test releases it, so backoff needs no real time and the test decides
// when the next attempt happens.
type blockingSleeper struct {
	waits   chan time.Duration
	release chan struct{}
}

func newBlockingSleeper() *blockingSleeper {
	return &blockingSleeper{waits: make(chan time.Duration), release: make(chan struct{})}
}

func (b *blockingSleeper) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case b.waits <- d:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *blockingSleeper) next(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-b.waits:
		return d
	case <-time.After(wait):
		t.Fatal("source did not back off")
		return 0
	}
}

func TestErrorsBackOffThenResyncWhenReachable(t *testing.T) {
	c := testSQS(t)
	q := createQueue(t, c, "dgp-errors")
	send(t, c, q, fixture(t, "aws-s3-direct-put.json"))

	// The client points at a port where nothing listens yet.
	port := testutil.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sleeper := newBlockingSleeper()
	sink := &notifytest.Sink{}
	src := New(sourceClient(t, q, "http://"+addr), Options{
		QueueURL:   q,
		WaitTime:   time.Second,
		MinBackoff: time.Second,
		MaxBackoff: 4 * time.Second,
		Sleep:      sleeper.Sleep,
	}, filter, sink, zerolog.Nop(), nil)
	notifytest.Start(t, src.Run)

	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		if got := sleeper.next(t); got != want {
			t.Fatalf("backoff %d = %v, want %v", i, got, want)
		}
		if i < 3 {
			sleeper.release <- struct{}{}
		}
	}
	st := src.Status()
	if st.Connected || st.LastError == "" {
		t.Fatalf("status while unreachable: %+v", st)
	}
	if len(sink.Resyncs()) != 0 || len(sink.Hints()) != 0 {
		t.Fatalf("sink called while unreachable: %+v %+v", sink.Resyncs(), sink.Hints())
	}

	// Now serve goaws on that port too, and let the source try again.
	ln, err := net.Listen("tcp", addr)
	testutil.Must(t, err, "listen on %s", addr)
	srv := &http.Server{Handler: goaws.handler, ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	t.Cleanup(func() {
		_ = srv.Close()
		wg.Wait()
	})
	sleeper.release <- struct{}{}

	testutil.RetryUntil(t, wait, func() error {
		rs := sink.Resyncs()
		if len(rs) != 1 || rs[0] != (notifytest.Resync{Source: SourceName, Reason: notify.ReasonReachable}) {
			return fmt.Errorf("resyncs %+v, want one %q", rs, notify.ReasonReachable)
		}
		return nil
	})
	waitMessages(t, src, map[string]uint64{"applied": 1})
	testutil.WaitQueueEmpty(t, testSQS(t), q, wait)
	assertHints(t, sink, 1)
	st = src.Status()
	if !st.Connected || st.LastError != "" {
		t.Errorf("status after recovery: %+v", st)
	}
	if rs := sink.Resyncs(); len(rs) != 1 {
		t.Errorf("resyncs %+v, want exactly one", rs)
	}
}

func TestInvalidOptions(t *testing.T) {
	src := New(nil, Options{QueueURL: "http://127.0.0.1:1/q"}, filter, &notifytest.Sink{}, zerolog.Nop(), nil)
	if err := src.Run(context.Background()); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Run without client = %v", err)
	}
	src = New(testSQS(t), Options{}, filter, &notifytest.Sink{}, zerolog.Nop(), nil)
	if err := src.Run(context.Background()); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Run without queue url = %v", err)
	}
}

func TestNewClient(t *testing.T) {
	ctx := context.Background()
	creds := WithStaticCredentials("a", "b", "")
	tests := []struct {
		name, queueURL, region, endpoint string
		wantRegion, wantEndpoint         string
		wantErr                          error
	}{
		{name: "aws url gives the region", queueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/dgp-1",
			wantRegion: "eu-west-1"},
		{name: "legacy aws url", queueURL: "https://ap-south-1.queue.amazonaws.com/123456789012/dgp-1",
			wantRegion: "ap-south-1"},
		{name: "explicit region wins", queueURL: "https://sqs.eu-west-1.amazonaws.com/1/q", region: "us-west-2",
			wantRegion: "us-west-2"},
		{name: "emulator url becomes the endpoint", queueURL: "http://127.0.0.1:4100/100010001000/q", region: "us-east-1",
			wantRegion: "us-east-1", wantEndpoint: "http://127.0.0.1:4100"},
		{name: "explicit endpoint wins", queueURL: "http://127.0.0.1:4100/1/q", region: "us-east-1", endpoint: "http://localhost:9324",
			wantRegion: "us-east-1", wantEndpoint: "http://localhost:9324"},
		{name: "not a url", queueURL: "dgp-queue", wantErr: ErrInvalidOptions},
		{name: "empty", queueURL: "", wantErr: ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(ctx, tt.queueURL, tt.region, tt.endpoint, creds)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			testutil.Must(t, err, "new client")
			o := c.Options()
			if o.Region != tt.wantRegion {
				t.Errorf("region = %q, want %q", o.Region, tt.wantRegion)
			}
			if got := aws.ToString(o.BaseEndpoint); got != tt.wantEndpoint {
				t.Errorf("endpoint = %q, want %q", got, tt.wantEndpoint)
			}
		})
	}
}
