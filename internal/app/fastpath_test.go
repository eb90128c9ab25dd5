package app

import (
	"context"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
)

// advanced.s3_fast_path switches the fast path of the s3 backends.
func TestS3FastPathSwitch(t *testing.T) {
	for _, on := range []bool{true, false} {
		cfg := config.Default()
		cfg.Storage.S3 = "http://127.0.0.1:1"
		cfg.Storage.AccessKeyID, cfg.Storage.SecretAccessKey = "key", "secret"
		cfg.Advanced.S3FastPath = on
		router, err := BuildRouter(context.Background(), cfg, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		backends := router.Backends()
		if len(backends) != 1 {
			t.Fatalf("%d backends", len(backends))
		}
		b, ok := backends[0].(*s3backend.Backend)
		if !ok {
			t.Fatalf("backend is %T", backends[0])
		}
		if b.FastPath() != on {
			t.Errorf("s3_fast_path %v: fast path %v", on, b.FastPath())
		}
	}
}
