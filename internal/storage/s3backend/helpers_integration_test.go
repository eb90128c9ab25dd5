//go:build integration

package s3backend

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	mrand "math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// minioEnv returns the test MinIO endpoint and keys, skipping the test when
// DGP_TEST_MINIO is unset.
func minioEnv(t testing.TB) (endpoint, access, secret string) {
	t.Helper()
	endpoint = os.Getenv("DGP_TEST_MINIO")
	if endpoint == "" {
		t.Skip("DGP_TEST_MINIO is not set")
	}
	access = os.Getenv("DGP_TEST_MINIO_ACCESS_KEY")
	secret = os.Getenv("DGP_TEST_MINIO_SECRET_KEY")
	if access == "" {
		access = "minioadmin"
	}
	if secret == "" {
		secret = "minioadmin"
	}
	return endpoint, access, secret
}

// mustBackend returns a Backend on the test MinIO; it fails the test when
// the server does not answer.
func mustBackend(t testing.TB) *Backend {
	t.Helper()
	endpoint, access, secret := minioEnv(t)
	b, err := New(context.Background(), Options{
		Name:            "test-minio",
		Endpoint:        endpoint,
		AccessKeyID:     access,
		SecretAccessKey: secret,
		ForcePathStyle:  true,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.Ping(context.Background()); err != nil {
		t.Fatalf("test MinIO %s is unreachable: %v", endpoint, err)
	}
	return b
}

// fastAndSDKBackends returns two Backends on the test MinIO: one that
// takes the fast path (the test fails if it does not), and one that sends
// every request through the SDK.
func fastAndSDKBackends(t testing.TB) (fast, sdk *Backend) {
	t.Helper()
	fast = mustBackend(t)
	if !fast.FastPath() {
		t.Fatal("the test backend does not take the fast path")
	}
	endpoint, access, secret := minioEnv(t)
	sdk, err := New(context.Background(), Options{
		Name: "test-minio-sdk", Endpoint: endpoint, AccessKeyID: access, SecretAccessKey: secret,
		ForcePathStyle: true, DisableFastPath: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return fast, sdk
}

// randomName returns prefix plus a random lower-case hex suffix.
func randomName(prefix string) string {
	var buf [6]byte
	_, _ = rand.Read(buf[:])
	return prefix + hex.EncodeToString(buf[:])
}

// mustBucket creates a uniquely named bucket, emptied and removed when the
// test ends.
func mustBucket(t testing.TB, b *Backend) string {
	t.Helper()
	bucket := randomName("dgp-s3b-")
	if err := b.CreateBucket(context.Background(), bucket, storage.CreateBucketOptions{}); err != nil {
		t.Fatalf("CreateBucket(%s): %v", bucket, err)
	}
	t.Cleanup(func() { removeBucket(t, b, bucket) })
	return bucket
}

func removeBucket(t testing.TB, b *Backend, bucket string) {
	ctx := context.Background()
	for {
		ups, err := b.ListMultipartUploads(ctx, bucket, storage.ListUploadsOptions{})
		if err != nil {
			if errors.Is(err, s3err.ErrNoSuchBucket) {
				return
			}
			t.Errorf("cleanup: list uploads: %v", err)
			return
		}
		for _, u := range ups.Uploads {
			_ = b.AbortMultipartUpload(ctx, bucket, u.Key, u.UploadID)
		}
		if !ups.IsTruncated {
			break
		}
	}
	// Every version and delete marker, lifting legal holds and bypassing
	// governance retention (tests lock versions in GOVERNANCE mode only).
	for range 100 {
		res, err := b.ListObjectVersions(ctx, bucket, storage.ListVersionsOptions{MaxKeys: 1000})
		if err != nil {
			t.Errorf("cleanup: list versions: %v", err)
			return
		}
		if len(res.Versions) == 0 {
			break
		}
		for _, v := range res.Versions {
			del := storage.DeleteOptions{VersionID: v.VersionID, BypassGovernance: true}
			_, err := b.DeleteObject(ctx, bucket, v.Key, del)
			if errors.Is(err, s3err.ErrAccessDenied) || errors.Is(err, s3err.ErrInvalidRequest) {
				_ = b.PutObjectLegalHold(ctx, bucket, v.Key, v.VersionID, false)
				_, err = b.DeleteObject(ctx, bucket, v.Key, del)
			}
			if err != nil {
				t.Errorf("cleanup: delete %s version %s: %v", v.Key, v.VersionID, err)
				return
			}
		}
	}
	if err := b.DeleteBucket(ctx, bucket); err != nil && !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Errorf("cleanup: delete bucket %s: %v", bucket, err)
	}
}

// mustPut stores data at key.
func mustPut(t testing.TB, b *Backend, bucket, key string, data []byte, opts storage.PutOptions) *storage.PutResult {
	t.Helper()
	res, err := b.PutObject(context.Background(), bucket, key, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatalf("PutObject(%s): %v", key, err)
	}
	return res
}

// mustGetBytes reads the whole object at key.
func mustGetBytes(t testing.TB, b *Backend, bucket, key string, opts storage.GetOptions) (*storage.Object, []byte) {
	t.Helper()
	obj, err := b.GetObject(context.Background(), bucket, key, opts)
	if err != nil {
		t.Fatalf("GetObject(%s): %v", key, err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return obj, data
}

// wantS3Err fails unless err is the S3 error want (by code) with want's status.
func wantS3Err(t testing.TB, what string, err error, want *s3err.Error) {
	t.Helper()
	var se *s3err.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s: error = %v (%T), want %s", what, err, err, want.Code)
	}
	if se.Code != want.Code || se.Status != want.Status {
		t.Fatalf("%s: error = %s/%d (%v), want %s/%d", what, se.Code, se.Status, err, want.Code, want.Status)
	}
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			out[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		out[i] = byte(r.Uint32())
	}
	return out
}

func md5ETag(data []byte) string {
	sum := md5.Sum(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// failingReader yields n bytes of data then fails with err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// onlyReader hides every method but Read (no Seek, no WriterTo, no Len).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func joinKeys(infos []storage.ObjectInfo) string {
	keys := make([]string, len(infos))
	for i, o := range infos {
		keys[i] = o.Key
	}
	return strings.Join(keys, ",")
}

func md5Base64(data []byte) string {
	sum := md5.Sum(data)
	return base64.StdEncoding.EncodeToString(sum[:])
}
