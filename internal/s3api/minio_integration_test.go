//go:build integration

package s3api

import (
	"context"
	"testing"

	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestRoundTripMinIO runs the SDK round trip through dgp in front of a real
// MinIO (the S3 backend), path style over HTTP and virtual-host style over
// TLS, each on its own uniquely named bucket.
func TestRoundTripMinIO(t *testing.T) {
	m := testutil.RequireMinIO(t)
	be, err := s3backend.New(context.Background(), s3backend.Options{Name: "minio", Endpoint: m.Endpoint,
		AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey, ForcePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	router, err := storage.NewRouter([]storage.Backend{be}, "minio", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		tls, vhost bool
	}{{"http-path", false, false}, {"https-vhost", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnvWith(t, tc.tls, router)
			bucket := testutil.UniqueName("dgp-s3api")
			roundTrip(t, e.client(rootAK, rootSK, tc.vhost), bucket, tc.tls)
		})
	}
}
