package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/Admiral-Piett/goaws/app/models"
	"github.com/Admiral-Piett/goaws/app/router"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
)

// Names of what the self-contained environment sets up.
const (
	coreSubject = "dgp.propagation.core"
	jsSubject   = "dgp.propagation.js"
	jsStream    = "DGP_PROPAGATION"
	coreARN     = "arn:minio:sqs::CORE:nats"
	jsARN       = "arn:minio:sqs::JS:nats"
	bridgeARN   = "arn:minio:sqs::BRIDGE:webhook"
	minioUser   = "minioadmin"
	minioPass   = "minioadmin"
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

	procs   []*exec.Cmd
	pids    map[string]int // started servers by name, for CPU accounting
	closers []func()
	wg      sync.WaitGroup
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
	for _, p := range e.procs {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
	e.wg.Wait()
}

// startEnv starts nats-server, MinIO (with a core NATS target, a JetStream
// target and, with withSQS, a webhook target) and goaws.
func startEnv(ctx context.Context, o options, work string, withSQS bool) (_ *env, err error) {
	e := &env{events: newEventLog()}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	natsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	natsAddr := "127.0.0.1:" + strconv.Itoa(natsPort)
	if err := e.spawn(work, "nats-server", o.natsServerBin, "-a", "127.0.0.1", "-p", strconv.Itoa(natsPort), "-js", "-sd", filepath.Join(work, "nats")); err != nil {
		return nil, err
	}
	if err := waitTCP(ctx, natsAddr); err != nil {
		return nil, fmt.Errorf("nats-server: %w", err)
	}
	e.natsURL = "nats://" + natsAddr
	e.coreSubject, e.coreARN = coreSubject, coreARN
	e.jsSubject, e.jsStream, e.jsARN = jsSubject, jsStream, jsARN
	// The stream must exist before MinIO's first upload, or MinIO drops the event.
	if err := createStream(ctx, e.natsURL); err != nil {
		return nil, err
	}

	minioEnv := []string{
		"MINIO_ROOT_USER=" + minioUser, "MINIO_ROOT_PASSWORD=" + minioPass, "MINIO_BROWSER=off",
		"MINIO_NOTIFY_NATS_ENABLE_CORE=on", "MINIO_NOTIFY_NATS_ADDRESS_CORE=" + natsAddr, "MINIO_NOTIFY_NATS_SUBJECT_CORE=" + coreSubject,
		"MINIO_NOTIFY_NATS_ENABLE_JS=on", "MINIO_NOTIFY_NATS_ADDRESS_JS=" + natsAddr, "MINIO_NOTIFY_NATS_SUBJECT_JS=" + jsSubject,
		"MINIO_NOTIFY_NATS_JETSTREAM_JS=on",
	}
	if withSQS {
		if e.sqs, err = e.startGoaws(ctx); err != nil {
			return nil, err
		}
		bridgeURL, err := e.startBridge()
		if err != nil {
			return nil, err
		}
		minioEnv = append(minioEnv, "MINIO_NOTIFY_WEBHOOK_ENABLE_BRIDGE=on", "MINIO_NOTIFY_WEBHOOK_ENDPOINT_BRIDGE="+bridgeURL)
	}
	minioPort, err := freePort()
	if err != nil {
		return nil, err
	}
	consolePort, err := freePort()
	if err != nil {
		return nil, err
	}
	minioAddr := "127.0.0.1:" + strconv.Itoa(minioPort)
	cmd := exec.Command(o.minioBin, "server", "--quiet", "--address", minioAddr,
		"--console-address", "127.0.0.1:"+strconv.Itoa(consolePort), filepath.Join(work, "minio"))
	cmd.Env = append(os.Environ(), minioEnv...)
	if err := e.spawnCmd(work, "minio", cmd); err != nil {
		return nil, err
	}
	e.minioURL, e.minioAccess, e.minioSecret = "http://"+minioAddr, minioUser, minioPass
	if err := waitHTTP(ctx, e.minioURL+"/minio/health/live"); err != nil {
		return nil, fmt.Errorf("minio: %w", err)
	}
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

func (e *env) spawn(work, name, bin string, args ...string) error {
	return e.spawnCmd(work, name, exec.Command(bin, args...))
}

func (e *env) spawnCmd(work, name string, cmd *exec.Cmd) error {
	logFile, err := os.Create(filepath.Join(work, name+".log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	e.procs = append(e.procs, cmd)
	if e.pids == nil {
		e.pids = map[string]int{}
	}
	e.pids[name] = cmd.Process.Pid
	e.closers = append(e.closers, func() { logFile.Close() })
	return nil
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
	logrus.SetOutput(io.Discard)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	models.CurrentEnvironment = models.Environment{
		Host: "127.0.0.1", Port: port, AccountID: "100010001000",
		QueueAttributeDefaults: models.EnvQueueAttributes{VisibilityTimeout: 30, MaximumMessageSize: 262144},
	}
	e.serve(ln, router.New())
	endpoint := "http://" + ln.Addr().String()
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	if err != nil {
		return nil, err
	}
	s := &sqsEnv{
		endpoint: endpoint,
		sqs:      sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		sns:      sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(endpoint) }),
	}
	out, err := s.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("dgp-propagation")})
	if err != nil {
		return nil, fmt.Errorf("goaws topic: %w", err)
	}
	s.topicARN = aws.ToString(out.TopicArn)
	return s, nil
}

// startBridge serves the webhook MinIO posts its events to; each event is
// published to the SNS topic as AWS S3 publishes it ({"Records": [...]}).
func (e *env) startBridge() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	e.serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Method != http.MethodPost || len(body) == 0 {
			w.WriteHeader(http.StatusOK)
			return
		}
		e.events.record(body)
		var ev struct {
			Records json.RawMessage `json:"Records"`
		}
		if err := json.Unmarshal(body, &ev); err != nil || len(ev.Records) == 0 {
			http.Error(w, "not an event", http.StatusBadRequest)
			return
		}
		msg, _ := json.Marshal(map[string]json.RawMessage{"Records": ev.Records})
		if _, err := e.sqs.sns.Publish(r.Context(), &sns.PublishInput{
			TopicArn: aws.String(e.sqs.topicARN), Subject: aws.String("Amazon S3 Notification"), Message: aws.String(string(msg)),
		}); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	return "http://" + ln.Addr().String() + "/", nil
}

// serve runs an HTTP server on ln until Close.
func (e *env) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	e.wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "dgp-propagation: serve:", err)
		}
	})
	e.closers = append(e.closers, func() { _ = srv.Close() })
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitTCP(ctx context.Context, addr string) error {
	return retry(ctx, 30*time.Second, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

func waitHTTP(ctx context.Context, url string) error {
	return retry(ctx, 30*time.Second, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
}

// retry calls f every 50 ms until it succeeds or timeout passes.
func retry(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
