package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/testharness"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
)

// The fleet's root keys and bootstrap password (loopback only).
const (
	bootstrapPassword = "propagation-benchmark-password"
	rootAccessKey     = "PROPAGATIONROOTKEY00"
	rootSecretKey     = "propagationRootSecret00000000000000000000"
)

// node is one dgp instance: in this process (inst), or a reader process
// of the --processes mode (pid).
type node struct {
	name   string
	url    string
	inst   *dgpfleet.Instance // nil for a process
	pid    int                // 0 in process
	group  int                // 1: a reader process of --dgp-bin-b, else 0
	stopFn func() error       // for a process
	watch  *logWatch
	hc     *http.Client
}

// fleetOptions are what every node of one measurement shares.
type fleetOptions struct {
	work   string
	bucket string
	mode   string
	env    *env
	poll   time.Duration // reader poll interval
	hc     *http.Client
	trace  bool   // readers log at debug level (event hints are timed)
	dgpBin string // readers run as processes of this binary (--processes)
	// readerEnv is added to the environment of those processes.
	readerEnv []string
	// floor: those processes are this binary's floor reader (--floor).
	floor bool
	// floorEvents: the floor readers send no GET (--floor-events-only).
	floorEvents bool
	// dgpBinB: every second reader process runs this binary (--dgp-bin-b).
	dgpBinB string
}

// spec is the instance spec of one node; queueURL is its SQS queue (sqs
// mode). It returns the node's log watch as well.
func (fo fleetOptions) spec(name string, writer bool, queueURL string) (dgpfleet.Spec, *logWatch) {
	w := newLogWatch(time.Now)
	level := zerolog.InfoLevel
	if fo.trace && !writer {
		level = zerolog.DebugLevel
	}
	return dgpfleet.Spec{
		DataDir:           filepath.Join(fo.work, name),
		NodeID:            name,
		AccessKeyID:       rootAccessKey,
		SecretAccessKey:   rootSecretKey,
		BootstrapPassword: bootstrapPassword,
		Logger:            zerolog.New(w).Level(level).With().Timestamp().Logger(),
		Configure: func(cfg *config.Config) {
			cfg.Advanced.ConfigSyncBucket = fo.bucket
			cfg.Advanced.ConfigSyncS3 = config.S3Settings{
				Endpoint: fo.env.minioURL, Region: "us-east-1",
				AccessKeyID: fo.env.minioAccess, SecretAccessKey: fo.env.minioSecret, ForcePathStyle: true,
			}
			cfg.Advanced.ConfigSyncPollInterval = time.Hour
			if !writer {
				cfg.Advanced.ConfigSyncRole = config.SyncRoleReader
			}
			switch fo.mode {
			case modePoll:
				if !writer {
					cfg.Advanced.ConfigSyncPollInterval = fo.poll
				}
			case modeNATSCore:
				cfg.Advanced.ConfigSyncNATS = config.NATSConfig{URL: fo.env.natsURL, Subject: fo.env.coreSubject}
			case modeNATSJetStream:
				cfg.Advanced.ConfigSyncNATS = config.NATSConfig{URL: fo.env.natsURL, Subject: fo.env.jsSubject, Stream: fo.env.jsStream}
			case modeSQS:
				if !writer {
					cfg.Advanced.ConfigSyncSQS = config.SQSConfig{QueueURL: queueURL, Endpoint: fo.env.sqs.endpoint, Region: "us-east-1"}
				}
			}
		},
	}, w
}

// startNode builds and runs one instance; queueURL is its SQS queue (sqs mode).
func startNode(ctx context.Context, fo fleetOptions, name string, writer bool, queueURL string) (*node, error) {
	s, w := fo.spec(name, writer, queueURL)
	in, err := dgpfleet.Start(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", name, err)
	}
	return &node{name: name, url: in.URL(), inst: in, watch: w, hc: fo.hc}, nil
}

// stop ends the node and waits for it.
func (n *node) stop() error {
	if n.inst == nil {
		return n.stopFn()
	}
	return n.inst.Stop(context.Background())
}

// s3Client is a client of the node with the given keys (no retries: a
// refused key is an answer, not a failure).
func (n *node) s3Client(accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(n.url),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:                 n.hc,
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// metrics returns the node's Prometheus samples, keyed "name{labels}".
func (n *node) metrics(ctx context.Context) (testharness.Metrics, error) {
	return testharness.ScrapeMetrics(ctx, n.hc, n.url+"/_/metrics")
}

// adminClient talks to a node's admin API with a session cookie.
type adminClient struct {
	base string
	hc   *http.Client
}

func newAdmin(ctx context.Context, n *node) (*adminClient, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Transport: n.hc.Transport, Jar: jar}
	c := &adminClient{base: n.url + "/_/api/admin", hc: hc}
	if _, err := c.do(ctx, http.MethodPost, "/login", map[string]string{"password": bootstrapPassword}, http.StatusOK, nil); err != nil {
		return nil, err
	}
	return c, nil
}

// user is a user as the admin API returns it.
type user struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// createUser creates a user allowed to list everything; it returns when the
// writer acknowledged (201: the bucket holds the change).
func (c *adminClient) createUser(ctx context.Context, name string) (user, error) {
	var u user
	_, err := c.do(ctx, http.MethodPost, "/users", map[string]any{
		"name":        name,
		"permissions": []map[string]any{{"effect": "Allow", "actions": []string{"list"}, "resources": []string{"*"}}},
	}, http.StatusCreated, &u)
	return u, err
}

// deleteUser deletes a user; it returns when the writer acknowledged.
func (c *adminClient) deleteUser(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/users/"+id, nil, http.StatusNoContent, nil)
	return err
}

func (c *adminClient) do(ctx context.Context, method, path string, body any, want int, out any) (int, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// startReaders starts n readers, a few at a time (each derives the DB key
// once at its first pull): in this process, or as processes of fo.dgpBin.
func startReaders(ctx context.Context, fo fleetOptions, n int, queues []string) ([]*node, error) {
	if fo.dgpBin != "" {
		return startProcessReaders(ctx, fo, n, queues)
	}
	readers := make([]*node, n)
	f, err := dgpfleet.StartN(ctx, n, 4, func(i int) dgpfleet.Spec {
		q := ""
		if queues != nil {
			q = queues[i]
		}
		name := fmt.Sprintf("reader-%03d", i)
		s, w := fo.spec(name, false, q)
		readers[i] = &node{name: name, watch: w, hc: fo.hc}
		return s
	})
	if err != nil {
		return nil, err
	}
	for i, in := range f {
		readers[i].inst, readers[i].url = in, in.URL()
	}
	return readers, nil
}

// stopAll stops every node, in parallel.
func stopAll(nodes []*node) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		if n != nil {
			wg.Go(func() { _ = n.stop() })
		}
	}
	wg.Wait()
}
