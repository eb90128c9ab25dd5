package s3backend

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// A Backend built with DisableFastPath sends every request through the
// SDK, whose retryer (here the one of Options.Retryer) retries a 503; the
// fast path never retries.
func TestDisableFastPathUsesTheSDKRetryer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		disable  bool
		wantHits int64
	}{{"fast path", false, 1}, {"sdk path", true, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			defer srv.Close()
			var built atomic.Int64
			b, err := New(context.Background(), Options{
				Endpoint: srv.URL, AccessKeyID: "key", SecretAccessKey: "secret", ForcePathStyle: true,
				DisableFastPath: tc.disable,
				Retryer: func() aws.Retryer {
					built.Add(1)
					return retry.NewStandard(func(o *retry.StandardOptions) {
						o.MaxAttempts = 3
						o.MaxBackoff = time.Millisecond
					})
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if (b.fast == nil) != tc.disable {
				t.Fatalf("fast path set: %v, DisableFastPath %v", b.fast != nil, tc.disable)
			}
			if built.Load() == 0 {
				t.Fatal("Options.Retryer was not used")
			}
			if _, err := b.HeadObject(context.Background(), "bucket", "key", storage.GetOptions{}); err == nil {
				t.Fatal("HeadObject of a 503 succeeded")
			}
			if got := hits.Load(); got != tc.wantHits {
				t.Fatalf("%d requests, want %d", got, tc.wantHits)
			}
		})
	}
}

// The fast path signs with the clock of Options.Now.
func TestFastPathSignsWithTheGivenClock(t *testing.T) {
	var date atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		date.Store(r.Header.Get("X-Amz-Date"))
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Content-Length", "0")
	}))
	defer srv.Close()
	at := time.Date(2021, 2, 3, 4, 5, 6, 0, time.UTC)
	b, err := New(context.Background(), Options{
		Endpoint: srv.URL, AccessKeyID: "key", SecretAccessKey: "secret", ForcePathStyle: true,
		Now: func() time.Time { return at },
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.fast == nil {
		t.Fatal("no fast path")
	}
	if _, err := b.HeadObject(context.Background(), "bucket", "key", storage.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := date.Load(), "20210203T040506Z"; got != want {
		t.Fatalf("X-Amz-Date %v, want %s", got, want)
	}
}
