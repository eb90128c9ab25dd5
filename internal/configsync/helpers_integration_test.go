//go:build integration

package configsync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// newBackend returns an s3backend on endpoint.
func newBackend(t testing.TB, endpoint, access, secret string) *s3backend.Backend {
	t.Helper()
	be, err := s3backend.New(context.Background(), s3backend.Options{
		Name: "sync", Endpoint: endpoint, AccessKeyID: access, SecretAccessKey: secret,
		ForcePathStyle: true, PingTimeout: 5 * time.Second,
	})
	testutil.Must(t, err, "s3backend.New")
	return be
}

// harnessBackend returns an s3backend on the harness's MinIO (skipping the
// test when there is none, failing when it is unreachable).
func harnessBackend(t testing.TB) *s3backend.Backend {
	t.Helper()
	m := testutil.RequireMinIO(t)
	be := newBackend(t, m.Endpoint, m.AccessKey, m.SecretKey)
	testutil.Must(t, be.Ping(context.Background()), "ping MinIO %s", m.Endpoint)
	return be
}

// mustBucket creates a uniquely named bucket, emptied and removed when the
// test ends.
func mustBucket(t testing.TB, be *s3backend.Backend) string {
	t.Helper()
	name := testutil.UniqueName("dgp-cs")
	testutil.Must(t, be.CreateBucket(context.Background(), name, storage.CreateBucketOptions{}), "create bucket %s", name)
	t.Cleanup(func() { removeBucket(t, be, name) })
	return name
}

func removeBucket(t testing.TB, be *s3backend.Backend, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		res, err := be.ListObjects(ctx, bucket, storage.ListOptions{MaxKeys: 1000})
		if err != nil {
			if !errors.Is(err, s3err.ErrNoSuchBucket) {
				t.Logf("cleanup: list %s: %v", bucket, err)
			}
			return
		}
		for _, o := range res.Objects {
			_, _ = be.DeleteObject(ctx, bucket, o.Key, storage.DeleteOptions{})
		}
		if !res.IsTruncated {
			break
		}
	}
	if err := be.DeleteBucket(ctx, bucket); err != nil && !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Logf("cleanup: delete bucket %s: %v", bucket, err)
	}
}

// listKeys returns the keys in bucket.
func listKeys(t testing.TB, be *s3backend.Backend, bucket string) []string {
	t.Helper()
	res, err := be.ListObjects(context.Background(), bucket, storage.ListOptions{MaxKeys: 1000})
	testutil.Must(t, err, "list %s", bucket)
	keys := make([]string, 0, len(res.Objects))
	for _, o := range res.Objects {
		keys = append(keys, o.Key)
	}
	return keys
}

// s3Node is a node on bucket of be through the production adapter.
func s3Node(t testing.TB, be *s3backend.Backend, bucket string, mods ...func(*configsync.Options)) *node {
	t.Helper()
	mods = append([]func(*configsync.Options){func(o *configsync.Options) {
		o.BucketName = bucket
		o.Now = time.Now // real time: the nodes are separate instances
		o.Rand = nil
		o.ConflictBackoff = 0
	}}, mods...)
	return newNode(t, configsync.NewS3Bucket(be, bucket), mods...)
}
