//go:build integration

package fleetstatus_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/fleetstatus"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
	"github.com/dgp-proxy/dgp/internal/testharness/syncfleet"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// The S3 Store against MinIO: put, list (every key under the prefix and
// nothing else), get, delete (a missing key too), and the generation of
// a bucket without a config DB; then cleanup through it removes what is
// past retention and keeps the rest.
func TestS3StoreOnMinIO(t *testing.T) {
	m := testutil.RequireMinIO(t)
	ctx := context.Background()
	bucket := syncfleet.TempBucket(t, syncfleet.Client(m), "fleetstore")
	client, err := s3backend.New(ctx, s3backend.Options{Name: "test", Endpoint: m.Endpoint, AccessKeyID: m.AccessKey,
		SecretAccessKey: m.SecretKey, ForcePathStyle: true, DisableFastPath: true})
	testutil.Must(t, err, "client")
	store := fleetstatus.NewS3Store(client, bucket, ".deltaglider/config.db")

	cur, err := store.Current(ctx)
	if err != nil || cur != (fleetstatus.BucketDB{}) {
		t.Fatalf("current of an empty bucket: %+v %v", cur, err)
	}
	for _, k := range []string{fleetstatus.Key("a"), fleetstatus.Key("b"), ".deltaglider/other.json"} {
		testutil.Must(t, store.Put(ctx, k, []byte(`{}`)), "put %s", k)
	}
	entries, err := store.List(ctx, fleetstatus.Prefix)
	testutil.Must(t, err, "list")
	var keys []string
	for _, e := range entries {
		keys = append(keys, e.Key)
		if time.Since(e.LastModified) > time.Hour || time.Until(e.LastModified) > time.Hour {
			t.Errorf("%s: last modified %s", e.Key, e.LastModified)
		}
	}
	if want := []string{fleetstatus.Key("a"), fleetstatus.Key("b")}; !slices.Equal(keys, want) {
		t.Errorf("listed %v, want %v", keys, want)
	}
	if b, err := store.Get(ctx, fleetstatus.Key("a")); err != nil || string(b) != "{}" {
		t.Errorf("get: %q %v", b, err)
	}
	if _, err := store.Get(ctx, fleetstatus.Key("nobody")); !errors.Is(err, fleetstatus.ErrNotFound) {
		t.Errorf("get of a missing key: %v, want ErrNotFound", err)
	}
	testutil.Must(t, store.Delete(ctx, fleetstatus.Key("a")), "delete")
	testutil.Must(t, store.Delete(ctx, fleetstatus.Key("a")), "delete again")

	// Cleanup a day and a bit later (by the clock) removes b (unreadable
	// and old), keeps this instance's own and what is not under the prefix.
	f, err := fleetstatus.New(fleetstatus.Options{Store: store, Node: "self", Local: func() fleetstatus.Status { return fleetstatus.Status{} },
		Key: fleetstatus.DeriveKey([]byte("k")), Now: func() time.Time { return time.Now().Add(25 * time.Hour) }})
	testutil.Must(t, err, "new")
	testutil.Must(t, f.Publish(ctx), "publish")
	n, err := f.Cleanup(ctx)
	if err != nil || n != 1 {
		t.Errorf("cleanup removed %d (%v), want 1", n, err)
	}
	entries, err = store.List(ctx, ".deltaglider/")
	testutil.Must(t, err, "list")
	keys = keys[:0]
	for _, e := range entries {
		keys = append(keys, e.Key)
	}
	if want := []string{".deltaglider/instances/self.json", ".deltaglider/other.json"}; !slices.Equal(keys, want) {
		t.Errorf("left %v, want %v", keys, want)
	}
}
