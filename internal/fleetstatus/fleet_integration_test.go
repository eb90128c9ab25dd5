//go:build integration

package fleetstatus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/fleetstatus"
	"github.com/dgp-proxy/dgp/internal/notifysetup"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

const wait = time.Minute

// A writer and two readers on one sync bucket (MinIO, events over NATS),
// each advertising its URL: after a user is created on the writer, the
// fleet view of every instance shows all three at the bucket's new
// generation (neither behind nor stale); a sync-now for a reader sent to
// the writer is proxied to the reader with the caller's session.
func TestFleetViewOfThreeInstances(t *testing.T) {
	m := testutil.RequireMinIO(t)
	natsURL, subject := os.Getenv("DGP_TEST_NATS_URL"), os.Getenv("DGP_TEST_NATS_SUBJECT")
	if natsURL == "" || subject == "" || m.NATSARN == "" {
		t.Skip("DGP_TEST_NATS_URL, DGP_TEST_NATS_SUBJECT or DGP_TEST_MINIO_NATS_ARN not set (run through .ci/run)")
	}
	bucket := newSyncBucket(t, m)
	dir := t.TempDir()
	nodes := []string{"fleet-a", "fleet-b", "fleet-c"}
	ports := make([]int, len(nodes))
	for i := range ports {
		ports[i] = testutil.FreePort(t)
	}
	logs := make([]*testutil.LogBuffer, len(nodes))
	f, err := dgpfleet.StartN(context.Background(), len(nodes), 1, func(i int) dgpfleet.Spec {
		logs[i] = &testutil.LogBuffer{}
		return dgpfleet.Spec{
			DataDir: filepath.Join(dir, nodes[i]),
			NodeID:  nodes[i],
			Logger:  zerolog.New(logs[i]).With().Timestamp().Logger(),
			Configure: func(c *config.Config) {
				c.Advanced.ListenAddr = "127.0.0.1:" + strconv.Itoa(ports[i])
				c.Advanced.AdvertiseURL = "http://127.0.0.1:" + strconv.Itoa(ports[i])
				c.Storage.S3 = m.Endpoint
				c.Storage.Region = "us-east-1"
				c.Storage.AccessKeyID = m.AccessKey
				c.Storage.SecretAccessKey = m.SecretKey
				c.Storage.ForcePathStyle = true
				c.Advanced.ConfigSyncBucket = bucket
				c.Advanced.ConfigSyncPollInterval = time.Hour // events and sync-now only
				c.Advanced.ConfigSyncNATS.URL = natsURL
				c.Advanced.ConfigSyncNATS.Subject = subject
				if i > 0 {
					c.Advanced.ConfigSyncRole = config.SyncRoleReader
				}
			},
		}
	})
	testutil.Must(t, err, "start fleet")
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("stop fleet: %v", err)
		}
		if t.Failed() {
			for i, l := range logs {
				t.Logf("%s log (tail):\n%s", nodes[i], testutil.Tail(l.String(), 15))
			}
		}
	})
	c := newAdmin(t)
	c.login(f[0].URL(), dgpfleet.DefaultBootstrapPassword)

	// Every instance shows in every instance's view, connected to NATS.
	for _, in := range f {
		testutil.RetryUntil(t, wait, func() error {
			v, err := c.view(in.URL())
			if err != nil {
				return err
			}
			return allAt(v, nodes, v.BucketGeneration, true)
		})
	}

	// A change on the writer: every view shows every instance at the new
	// generation.
	before, err := c.view(f[0].URL())
	testutil.Must(t, err, "view")
	c.mustDo(http.StatusCreated, http.MethodPost, f[0].URL()+"/_/api/admin/users",
		`{"name":"fleet-view-user","permissions":[{"effect":"Allow","actions":["list"],"resources":["*"]}]}`)
	for _, in := range f {
		testutil.RetryUntil(t, wait, func() error {
			v, err := c.view(in.URL())
			if err != nil {
				return err
			}
			if v.BucketGeneration <= before.BucketGeneration {
				return fmt.Errorf("%s: bucket generation %d, want > %d", in.URL(), v.BucketGeneration, before.BucketGeneration)
			}
			return allAt(v, nodes, v.BucketGeneration, false)
		})
	}

	// The status objects are in the sync bucket, where the docs say.
	s3c := minioClient(m)
	for _, n := range nodes {
		_, err := s3c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(fleetstatus.Key(n))})
		testutil.Must(t, err, "head status object of %s", n)
	}

	// sync-now for fleet-c, asked of fleet-a: fleet-a proxies it to
	// fleet-c's advertised URL, and fleet-c's next status says so (its
	// last pull so far came from the event).
	v, err := c.view(f[0].URL())
	testutil.Must(t, err, "view")
	if in := v.Instances[2]; in.PullSource != "event" {
		t.Fatalf("fleet-c's last pull came from %q before sync-now, want event", in.PullSource)
	}
	resp := c.mustDo(http.StatusOK, http.MethodPost, f[0].URL()+"/_/api/admin/fleet/fleet-c/sync-now", "")
	var pull struct {
		Status     string `json:"status"`
		Generation uint64 `json:"generation"`
	}
	testutil.Must(t, json.Unmarshal(resp, &pull), "decode %s", resp)
	if pull.Status != "current" && pull.Status != "updated" {
		t.Errorf("proxied sync-now answered %s", resp)
	}
	testutil.RetryUntil(t, wait, func() error {
		v, err := c.view(f[1].URL())
		if err != nil {
			return err
		}
		for _, in := range v.Instances {
			if in.Node == "fleet-c" && in.PullSource != "sync-now" {
				return fmt.Errorf("fleet-c's last pull came from %q, want sync-now", in.PullSource)
			}
		}
		return nil
	})
	// The same for the node that answers itself.
	c.mustDo(http.StatusOK, http.MethodPost, f[0].URL()+"/_/api/admin/fleet/fleet-a/sync-now", "")
	c.mustDo(http.StatusNotFound, http.MethodPost, f[0].URL()+"/_/api/admin/fleet/nobody/sync-now", "")
}

// allAt checks that v lists exactly nodes, all verified, none stale,
// behind or below gen; with sources, each connected to NATS.
func allAt(v fleetstatus.View, nodes []string, gen uint64, sources bool) error {
	if len(v.Instances) != len(nodes) {
		return fmt.Errorf("%d instances, want %d: %+v", len(v.Instances), len(nodes), v.Instances)
	}
	for i, in := range v.Instances {
		switch {
		case in.Node != nodes[i]:
			return fmt.Errorf("instance %d is %q, want %q", i, in.Node, nodes[i])
		case !in.Verified || in.Stale || in.Behind || in.Generation != gen:
			return fmt.Errorf("%s: verified %v stale %v behind %v generation %d (bucket %d)",
				in.Node, in.Verified, in.Stale, in.Behind, in.Generation, gen)
		case !strings.HasPrefix(in.AdminURL, "http://127.0.0.1:"):
			return fmt.Errorf("%s: admin_url %q", in.Node, in.AdminURL)
		case sources && (len(in.EventSources) != 1 || !in.EventSources[0].Connected):
			return fmt.Errorf("%s: event sources %+v", in.Node, in.EventSources)
		}
	}
	return nil
}

func minioClient(m testutil.MinIO) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
}

// newSyncBucket creates a sync bucket whose config object's events go to
// MinIO's NATS target; it is emptied and removed after the test.
func newSyncBucket(t *testing.T, m testutil.MinIO) string {
	t.Helper()
	ctx := context.Background()
	name := testutil.UniqueName("fleet")
	c := minioClient(m)
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	testutil.Must(t, err, "create sync bucket")
	t.Cleanup(func() {
		out, _ := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
		if out != nil {
			for _, o := range out.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: o.Key})
			}
		}
		_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	})
	nc, err := notifysetup.NewClient(ctx, config.S3Settings{Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey, ForcePathStyle: true})
	testutil.Must(t, err, "notification client")
	target, err := notifysetup.NATSTarget(m.NATSARN)
	testutil.Must(t, err, "nats target")
	testutil.RetryUntil(t, wait, func() error {
		_, err := notifysetup.Ensure(ctx, nc, name, notifysetup.Rule{Target: target, Key: config.DefaultConfigSyncObjectKey}, false)
		return err
	})
	return name
}

// admin is an admin API client whose cookie jar holds one session for
// every instance (all on 127.0.0.1; sessions are valid fleet-wide).
type admin struct {
	t  *testing.T
	hc *http.Client
}

func newAdmin(t *testing.T) *admin {
	jar, err := cookiejar.New(nil)
	testutil.Must(t, err, "cookie jar")
	return &admin{t: t, hc: &http.Client{Jar: jar, Timeout: wait}}
}

func (a *admin) do(method, url, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (a *admin) mustDo(want int, method, url, body string) []byte {
	a.t.Helper()
	status, b, err := a.do(method, url, body)
	testutil.Must(a.t, err, "%s %s", method, url)
	if status != want {
		a.t.Fatalf("%s %s: %d %s, want %d", method, url, status, b, want)
	}
	return b
}

func (a *admin) login(base, password string) {
	a.t.Helper()
	a.mustDo(http.StatusOK, http.MethodPost, base+"/_/api/admin/login", `{"password":"`+password+`"}`)
}

func (a *admin) view(base string) (fleetstatus.View, error) {
	var v fleetstatus.View
	status, b, err := a.do(http.MethodGet, base+"/_/api/admin/fleet", "")
	if err != nil {
		return v, err
	}
	if status != http.StatusOK {
		return v, fmt.Errorf("GET fleet on %s: %d %s", base, status, b)
	}
	return v, json.Unmarshal(b, &v)
}
