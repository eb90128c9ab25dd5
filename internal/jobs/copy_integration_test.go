//go:build integration

package jobs

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestMinIOLargeCopiesInParts: directory -> MinIO (DGP_TEST_MINIO), a
// large object goes in parts and arrives byte-identical with its content
// type and metadata, as a multipart object; MinIO -> directory, the same
// object comes back whole in one stream (ranged reads are the S3 side's).
func TestMinIOLargeCopiesInParts(t *testing.T) {
	m := testutil.RequireMinIO(t)
	ctx := context.Background()
	mb, err := s3backend.New(ctx, s3backend.Options{
		Name: "minio", Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
		ForcePathStyle: true, PingTimeout: 5 * time.Second,
	})
	testutil.Must(t, err, "s3backend.New")
	fb, err := fsbackend.New("dir", t.TempDir(), time.Now)
	testutil.Must(t, err, "fsbackend")
	bucket := testutil.UniqueName("dgp-jobs-parts")
	testutil.Must(t, mb.CreateBucket(ctx, bucket, storage.CreateBucketOptions{}), "create %s", bucket)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, _ := mb.ListObjects(cctx, bucket, storage.ListOptions{MaxKeys: 1000})
		if res != nil {
			for _, o := range res.Objects {
				_, _ = mb.DeleteObject(cctx, bucket, o.Key, storage.DeleteOptions{})
			}
		}
		_ = mb.DeleteBucket(cctx, bucket)
	})
	r, err := storage.NewRouter([]storage.Backend{fb, mb}, "dir", map[string]storage.Route{"dst": {Backend: "minio", Alias: bucket}})
	testutil.Must(t, err, "router")
	for _, b := range []string{"src", "back"} {
		testutil.Must(t, fb.CreateBucket(ctx, b, storage.CreateBucketOptions{}), "create %s", b)
	}
	w := &world{t: t, router: r, state: t.TempDir(), logs: &bytes.Buffer{}}
	body := randomBody(t, 3*PartSize+777)
	w.put("src", "in/big", body, map[string]string{"k": "big"})
	w.put("src", "in/small", "small", map[string]string{"k": "small"})

	e := w.engine("n1", rule("r1"))
	start(t, e)
	testutil.RetryUntil(t, 2*time.Minute, func() error { return same(w.contents("dst", "out/"), w.contents("src", "in/")) })
	info, err := mb.HeadObject(ctx, bucket, "out/big", storage.GetOptions{})
	testutil.Must(t, err, "head")
	if info.ContentType != "text/x-test" || info.UserMetadata["k"] != "big" || !strings.HasSuffix(strings.Trim(info.ETag, `"`), "-4") {
		t.Fatalf("out/big at MinIO: %q %v ETag %s (want 4 parts)", info.ContentType, info.UserMetadata, info.ETag)
	}

	// And back: MinIO -> directory, one stream.
	back := rule("back")
	back.Source.Bucket, back.Source.Prefix = "dst", "out/"
	back.Destination.Bucket, back.Destination.Prefix = "back", ""
	e2 := w.engine("n2", back)
	start(t, e2)
	testutil.RetryUntil(t, 2*time.Minute, func() error {
		got := w.contents("back", "")
		if got["big"] != body || got["small"] != "small" {
			return fmt.Errorf("back: %d keys", len(got))
		}
		return nil
	})
	bi, err := fb.HeadObject(ctx, "back", "big", storage.GetOptions{})
	testutil.Must(t, err, "head back")
	if strings.Contains(bi.ETag, "-") || bi.UserMetadata["k"] != "big" {
		t.Fatalf("back/big: ETag %s metadata %v (want one stream)", bi.ETag, bi.UserMetadata)
	}
}
