// Package syncfleet starts dgp fleets for integration tests: a writer and
// readers sharing one config sync bucket on the harness's MinIO,
// optionally told of changes over MinIO's NATS target, each instance in
// process (dgpfleet). It also makes the throwaway MinIO buckets such tests
// need.
package syncfleet

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/notifysetup"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// Options says which fleet to start.
type Options struct {
	// Nodes are the node ids; Nodes[0] is the writer, the others readers.
	Nodes []string
	// BucketPrefix names the sync bucket (testutil.UniqueName).
	BucketPrefix string
	// NATS sends the config object's change events to MinIO's NATS target
	// and has every instance listen there; the test is skipped when the
	// NATS variables are not set.
	NATS bool
	// Advertise gives every instance a fixed port and advertises its URL
	// (what the fleet view's proxied sync-now needs).
	Advertise bool
	// Wait bounds the notification set-up (zero: a minute).
	Wait time.Duration
	// LogTail is how many lines of each instance's log a failed test
	// shows (zero: 20).
	LogTail int
}

// Fleet is a running fleet on its sync bucket.
type Fleet struct {
	Instances dgpfleet.Fleet
	Nodes     []string
	MinIO     testutil.MinIO
	S3        *s3.Client // MinIO as its admin
	Bucket    string     // the sync bucket
}

// URL is instance i's base URL.
func (f *Fleet) URL(i int) string { return f.Instances[i].URL() }

// Start starts the fleet, stopped (and its bucket removed) when the test
// ends. It skips the test when MinIO (or, with NATS, the NATS target) is
// not configured.
func Start(t testing.TB, o Options) *Fleet {
	t.Helper()
	m := testutil.RequireMinIO(t)
	var natsURL, subject string
	if o.NATS {
		natsURL, subject = RequireNATS(t, m)
	}
	wait := o.Wait
	if wait == 0 {
		wait = time.Minute
	}
	tail := o.LogTail
	if tail == 0 {
		tail = 20
	}
	f := &Fleet{Nodes: o.Nodes, MinIO: m, S3: Client(m)}
	f.Bucket = TempBucket(t, f.S3, o.BucketPrefix)
	ctx := context.Background()
	if o.NATS {
		nc, err := notifysetup.NewClient(ctx, config.S3Settings{Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey, ForcePathStyle: true})
		testutil.Must(t, err, "notification client")
		target, err := notifysetup.NATSTarget(m.NATSARN)
		testutil.Must(t, err, "nats target")
		testutil.RetryUntil(t, wait, func() error {
			_, err := notifysetup.Ensure(ctx, nc, f.Bucket, notifysetup.Rule{Target: target, Key: config.DefaultConfigSyncObjectKey}, false)
			return err
		})
	}

	dir := t.TempDir()
	ports := make([]int, len(o.Nodes))
	if o.Advertise {
		for i := range ports {
			ports[i] = testutil.FreePort(t)
		}
	}
	logs := make([]*testutil.LogBuffer, len(o.Nodes))
	var err error
	f.Instances, err = dgpfleet.StartN(ctx, len(o.Nodes), 1, func(i int) dgpfleet.Spec {
		logs[i] = &testutil.LogBuffer{}
		return dgpfleet.Spec{
			DataDir: filepath.Join(dir, o.Nodes[i]),
			NodeID:  o.Nodes[i],
			Logger:  zerolog.New(logs[i]).With().Timestamp().Logger(),
			Configure: func(c *config.Config) {
				if o.Advertise {
					c.Advanced.ListenAddr = "127.0.0.1:" + strconv.Itoa(ports[i])
					c.Advanced.AdvertiseURL = "http://127.0.0.1:" + strconv.Itoa(ports[i])
				}
				c.Storage.S3 = m.Endpoint
				c.Storage.Region = "us-east-1"
				c.Storage.AccessKeyID = m.AccessKey
				c.Storage.SecretAccessKey = m.SecretKey
				c.Storage.ForcePathStyle = true
				c.Advanced.ConfigSyncBucket = f.Bucket
				c.Advanced.ConfigSyncPollInterval = time.Hour // events and sync-now only
				if o.NATS {
					c.Advanced.ConfigSyncNATS.URL = natsURL
					c.Advanced.ConfigSyncNATS.Subject = subject
				}
				if i > 0 {
					c.Advanced.ConfigSyncRole = config.SyncRoleReader
				}
			},
		}
	})
	testutil.Must(t, err, "start fleet")
	t.Cleanup(func() {
		if err := f.Instances.Close(); err != nil {
			t.Errorf("stop fleet: %v", err)
		}
		if t.Failed() {
			for i, l := range logs {
				t.Logf("%s log (tail):\n%s", o.Nodes[i], testutil.Tail(l.String(), tail))
			}
		}
	})
	return f
}

// RequireNATS returns the NATS server and subject of the harness, skipping
// the test when they (or MinIO's NATS target) are not configured.
func RequireNATS(t testing.TB, m testutil.MinIO) (url, subject string) {
	t.Helper()
	url, subject = os.Getenv("DGP_TEST_NATS_URL"), os.Getenv("DGP_TEST_NATS_SUBJECT")
	if url == "" || subject == "" || m.NATSARN == "" {
		t.Skip("DGP_TEST_NATS_URL, DGP_TEST_NATS_SUBJECT or DGP_TEST_MINIO_NATS_ARN not set (run through .ci/run)")
	}
	return url, subject
}

// Client is an S3 client for MinIO with its admin keys.
func Client(m testutil.MinIO) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
}

// TempBucket creates a bucket named after prefix, emptied and removed
// when the test ends.
func TempBucket(t testing.TB, c *s3.Client, prefix string) string {
	t.Helper()
	ctx := context.Background()
	name := testutil.UniqueName(prefix)
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	testutil.Must(t, err, "create bucket %s", name)
	t.Cleanup(func() {
		out, _ := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
		if out != nil {
			for _, o := range out.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: o.Key})
			}
		}
		_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	})
	return name
}
