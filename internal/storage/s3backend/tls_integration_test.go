//go:build integration

package s3backend

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/testharness"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// startTLSMinIO runs a private MinIO over HTTPS (DGP_TEST_MINIO_BIN) for the
// test and returns a Backend on it using a caller-supplied HTTP client.
func startTLSMinIO(t *testing.T) *Backend {
	t.Helper()
	minioEnv(t)
	ca := testutil.NewTestCA(t)
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	m := testutil.StartMinIOWith(t, testharness.MinIOOptions{
		User: "tlsadmin", Password: "tlsadmin-secret", CertsDir: ca.MinIOCertsDir(t), HealthClient: &http.Client{Transport: tr},
	})
	b, err := New(context.Background(), Options{
		Name:            "tls-minio",
		Endpoint:        m.Endpoint,
		AccessKeyID:     m.AccessKey,
		SecretAccessKey: m.SecretKey,
		ForcePathStyle:  true,
		HTTPClient:      &http.Client{Transport: tr},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	testutil.RetryUntil(t, 30*time.Second, func() error { return b.Ping(context.Background()) })
	return b
}

// TestStreamingOverTLS runs the streaming paths over HTTPS (HTTP/2), where
// the SDK would otherwise pick trailer checksums or aws-chunked encoding.
func TestStreamingOverTLS(t *testing.T) {
	b := startTLSMinIO(t)
	ctx := context.Background()
	bucket := mustBucket(t, b)
	const size = 20 << 20

	body, wait := pipeSource(t, 99, size)
	res, err := b.PutObject(ctx, bucket, "big", body, size, storage.PutOptions{})
	sent := wait()
	if err != nil {
		t.Fatalf("PutObject over TLS: %v", err)
	}
	if res.ETag != sent {
		t.Fatalf("ETag = %s, want %s", res.ETag, sent)
	}
	obj, err := b.HeadObject(ctx, bucket, "big", storage.GetOptions{})
	if err != nil || obj.Size != size || obj.ETag != sent {
		t.Fatalf("HeadObject = %+v, %v", obj, err)
	}

	boom := errors.New("client went away")
	_, err = b.PutObject(ctx, bucket, "broken", &failingReader{data: randomBytes(8, 4<<20), err: boom}, 8<<20, storage.PutOptions{})
	if !errors.Is(err, boom) {
		t.Fatalf("PutObject(failing body) = %v, want the reader's error", err)
	}
	_, err = b.HeadObject(ctx, bucket, "broken", storage.GetOptions{})
	wantS3Err(t, "HeadObject(broken)", err, s3err.ErrNoSuchKey)

	uploadID, err := b.CreateMultipartUpload(ctx, bucket, "mp", storage.PutOptions{})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	part := randomBytes(9, 5<<20)
	pr, err := b.UploadPart(ctx, bucket, "mp", uploadID, 1, onlyReader{bytes.NewReader(part)}, int64(len(part)), storage.PartOptions{})
	if err != nil {
		t.Fatalf("UploadPart over TLS: %v", err)
	}
	if _, err := b.CompleteMultipartUpload(ctx, bucket, "mp", uploadID, []storage.CompletedPart{{PartNumber: 1, ETag: pr.ETag}}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if _, got := mustGetBytes(t, b, bucket, "mp", storage.GetOptions{}); !bytes.Equal(got, part) {
		t.Fatalf("multipart object over TLS differs (%d bytes)", len(got))
	}
}
