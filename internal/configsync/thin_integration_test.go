//go:build integration

package configsync_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestIntegrationThinGet: the thin getter (an s3backend fast path, through
// http.Transport or a DirectTransport) reads, conditionally reads and
// misses the config object on MinIO as the SDK path does.
func TestIntegrationThinGet(t *testing.T) {
	for _, kind := range []string{"thin", "direct"} {
		t.Run(kind, func(t *testing.T) { testThinGet(t, kind) })
	}
}

func testThinGet(t *testing.T, kind string) {
	be := syncBackend(t, false)
	bucket := mustBucket(t, be)
	b := readerBucket(t, kind, bucket)
	ctx := context.Background()
	if _, _, err := b.Get(ctx, testKey, ""); !errors.Is(err, configsync.ErrNotFound) {
		t.Fatalf("get of a missing object: %v, want ErrNotFound", err)
	}
	etag, err := b.Put(ctx, testKey, []byte("generation 1"), "", "*")
	testutil.Must(t, err, "put")
	body, got, err := b.Get(ctx, testKey, "")
	testutil.Must(t, err, "get")
	if string(body) != "generation 1" || got != etag {
		t.Fatalf("get: %q %q, want %q %q", body, got, "generation 1", etag)
	}
	if _, _, err := b.Get(ctx, testKey, etag); !errors.Is(err, configsync.ErrNotModified) {
		t.Fatalf("conditional get of the held etag: %v, want ErrNotModified", err)
	}
	etag2, err := b.Put(ctx, testKey, []byte("generation 2"), etag, "")
	testutil.Must(t, err, "put 2")
	body, got, err = b.Get(ctx, testKey, etag)
	testutil.Must(t, err, "conditional get of a changed object")
	if string(body) != "generation 2" || got != etag2 {
		t.Fatalf("get: %q %q, want %q %q", body, got, "generation 2", etag2)
	}
}
