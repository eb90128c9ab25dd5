package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dgp-proxy/dgp/internal/testharness"
)

// Names of what the self-contained environment sets up.
const (
	coreSubject  = "dgp.propagation.core"
	jsSubject    = "dgp.propagation.js"
	jsStream     = "DGP_PROPAGATION"
	coreTarget   = "CORE"
	coreARN      = "arn:minio:sqs::CORE:nats"
	jsTarget     = "JS"
	jsARN        = "arn:minio:sqs::JS:nats"
	bridgeTarget = "BRIDGE"
	bridgeARN    = "arn:minio:sqs::BRIDGE:webhook"
	minioUser    = "minioadmin"
	minioPass    = "minioadmin"
)

// env is the MinIO, NATS and (for the sqs mode) SNS/SQS the benchmark runs
// against: started by the tool (self-contained) or given by flags.
type env struct {
	minioURL, minioAccess, minioSecret string

	natsURL string
	// Per mode: subject, stream, MinIO target ARN.
	coreSubject, coreARN string
	jsSubject, jsStream  string
	jsARN                string

	sqs *sqsEnv // nil unless the sqs mode can run

	// eventSeen records when the tool saw MinIO's events (NATS message or
	// webhook post), per bucket.
	events *eventLog

	pids    map[string]int // started servers by name, for CPU accounting
	closers []func()
}

// sqsEnv is an in-process goaws (SNS + SQS) fed by a webhook bridge.
type sqsEnv struct {
	endpoint string
	sqs      *sqs.Client
	sns      *sns.Client
	topicARN string
}

// Close stops everything the environment started, children by PID.
func (e *env) Close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// startEnv starts nats-server, MinIO (with a core NATS target, a JetStream
// target and, with withSQS, a webhook target) and goaws.
func startEnv(ctx context.Context, o options, work string, withSQS bool) (_ *env, err error) {
	e := &env{events: newEventLog(), pids: map[string]int{}}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	natsLog, err := e.logFile(work, "nats-server")
	if err != nil {
		return nil, err
	}
	ns, err := testharness.StartNATS(ctx, testharness.NATSOptions{Bin: o.natsServerBin, Dir: filepath.Join(work, "nats"), Output: natsLog})
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, func() { _ = ns.Stop() })
	e.pids["nats-server"] = ns.PID()
	e.natsURL = ns.URL
	e.coreSubject, e.coreARN = coreSubject, coreARN
	e.jsSubject, e.jsStream, e.jsARN = jsSubject, jsStream, jsARN
	// The stream must exist before MinIO's first upload, or MinIO drops the event.
	if err := createStream(ctx, e.natsURL); err != nil {
		return nil, err
	}

	minioEnv, _ := testharness.MinIONATSTarget(coreTarget, ns.Addr, coreSubject, false)
	jsEnv, _ := testharness.MinIONATSTarget(jsTarget, ns.Addr, jsSubject, true)
	minioEnv = append(minioEnv, jsEnv...)
	if withSQS {
		if e.sqs, err = e.startGoaws(ctx); err != nil {
			return nil, err
		}
		h := testharness.SNSBridge(e.sqs.sns, e.sqs.topicARN, e.events.record, nil)
		bridgeURL, stop, err := testharness.Serve(h)
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, stop)
		webhookEnv, _ := testharness.MinIOWebhookTarget(bridgeTarget, bridgeURL+"/")
		minioEnv = append(minioEnv, webhookEnv...)
	}
	minioLog, err := e.logFile(work, "minio")
	if err != nil {
		return nil, err
	}
	m, err := testharness.StartMinIO(ctx, testharness.MinIOOptions{
		Bin: o.minioBin, Dir: filepath.Join(work, "minio"), User: minioUser, Password: minioPass, Env: minioEnv, Output: minioLog,
	})
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, func() { _ = m.Stop() })
	e.pids["minio"] = m.PID()
	e.minioURL, e.minioAccess, e.minioSecret = m.Endpoint, m.AccessKey, m.SecretKey
	if err := e.watchNATS(); err != nil {
		return nil, err
	}
	return e, nil
}

// externalEnv uses a MinIO and NATS started elsewhere (modes nats-core and poll).
func externalEnv(o options) (*env, error) {
	e := &env{
		events:      newEventLog(),
		minioURL:    o.minioURL,
		minioAccess: o.minioAccess,
		minioSecret: o.minioSecret,
		natsURL:     o.natsURL,
		coreSubject: o.natsSubject,
		coreARN:     o.minioNATSARN,
	}
	if e.natsURL != "" {
		if err := e.watchNATS(); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// logFile creates work/name.log, closed by Close.
func (e *env) logFile(work, name string) (*os.File, error) {
	f, err := os.Create(filepath.Join(work, name+".log"))
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, func() { f.Close() })
	return f, nil
}

// watchNATS subscribes to the event subjects to timestamp MinIO's events.
func (e *env) watchNATS() error {
	nc, err := nats.Connect(e.natsURL)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	e.closers = append(e.closers, nc.Close)
	for _, subj := range []string{e.coreSubject, e.jsSubject} {
		if subj == "" {
			continue
		}
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) { e.events.record(m.Data) }); err != nil {
			return fmt.Errorf("nats subscribe: %w", err)
		}
	}
	return nc.Flush()
}

func createStream(ctx context.Context, url string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: jsStream, Subjects: []string{jsSubject}, MaxAge: time.Hour})
	if err != nil {
		return fmt.Errorf("create stream: %w", err)
	}
	return nil
}

// startGoaws serves goaws (SNS + SQS; it keeps state in package globals,
// so one per process) on 127.0.0.1 and creates the topic.
func (e *env) startGoaws(ctx context.Context) (*sqsEnv, error) {
	g, err := testharness.StartGoaws(testharness.GoawsOptions{})
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, g.Close)
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	if err != nil {
		return nil, err
	}
	s := &sqsEnv{
		endpoint: g.Endpoint,
		sqs:      sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(g.Endpoint) }),
		sns:      sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(g.Endpoint) }),
	}
	out, err := s.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("dgp-propagation")})
	if err != nil {
		return nil, fmt.Errorf("goaws topic: %w", err)
	}
	s.topicARN = aws.ToString(out.TopicArn)
	return s, nil
}
