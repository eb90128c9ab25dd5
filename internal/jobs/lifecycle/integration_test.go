//go:build integration

package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/jobs/lifecycle"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// Lifecycle rules against the shared MinIO (DGP_TEST_MINIO), each test on
// fresh buckets. MinIO stamps Last-Modified itself, so ages there are
// judged against a now chosen after the writes; the age arithmetic is
// covered on the directory backend's injected clock.

// minioBucket returns a backend on MinIO and a fresh bucket on it.
func minioBucket(t *testing.T) (*s3backend.Backend, string) {
	t.Helper()
	m := testutil.RequireMinIO(t)
	be, err := s3backend.New(context.Background(), s3backend.Options{
		Name: "minio", Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
		ForcePathStyle: true, PingTimeout: 5 * time.Second,
	})
	testutil.Must(t, err, "s3backend.New")
	testutil.Must(t, be.Ping(context.Background()), "ping MinIO %s", m.Endpoint)
	name := testutil.UniqueName("dgp-lifecycle")
	testutil.Must(t, be.CreateBucket(context.Background(), name, storage.CreateBucketOptions{}), "create bucket %s", name)
	t.Cleanup(func() { emptyAndRemove(t, be, name) })
	return be, name
}

func emptyAndRemove(t *testing.T, be *s3backend.Backend, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, k := range keys(t, be, bucket) {
		_, _ = be.DeleteObject(ctx, bucket, k, storage.DeleteOptions{})
	}
	if err := be.DeleteBucket(ctx, bucket); err != nil && !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Logf("cleanup: delete bucket %s: %v", bucket, err)
	}
}

// transition directory -> MinIO (move and archive) and MinIO -> directory:
// bytes, content type and user metadata arrive; a second run copies
// nothing.
func TestMinIOTransition(t *testing.T) {
	for _, tc := range []struct {
		name    string
		toMinIO bool
		move    bool
	}{
		{"dir-to-minio-move", true, true},
		{"dir-to-minio-archive", true, false},
		{"minio-to-dir-archive", false, false},
		{"minio-to-dir-move", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testutil.NewClock(t0)
			dir := dirStore(t, clock, "local")
			mb, bucket := minioBucket(t)
			srcSt, srcB, dstSt, dstB := lifecycle.Store(dir), "local", lifecycle.Store(mb), bucket
			if !tc.toMinIO {
				srcSt, srcB, dstSt, dstB = mb, bucket, dir, "local"
			}
			resolve := func(b string) (lifecycle.Store, string) {
				if b == srcB {
					return srcSt, b
				}
				return dstSt, b
			}
			objs := []object{{"rel/a.bin", 0, 100}, {"rel/big.bin", 0, 6 << 20}, {"rel/x/y.bin", 0, 1}, {"keep/k.bin", 0, 5}}
			var now time.Time
			if tc.toMinIO {
				putAll(t, srcSt, clock, srcB, objs)
				now = t0.Add(2 * day)
			} else {
				for _, o := range objs {
					put(t, srcSt, srcB, o.key, body(o.key, o.size))
				}
				now = time.Now().Add(2 * day)
			}
			r := rule(srcB, "rel/", config.LifecycleAction{
				Type: config.ActionTransition, Destination: config.JobLocation{Bucket: dstB, Prefix: "cold/"}, DeleteSourceAfterSuccess: tc.move,
			}, day)
			_, res := previewThenApply(t, resolve, r, now)
			if res.Copied != 3 {
				t.Fatalf("copied %d, want 3", res.Copied)
			}
			mustKeys(t, dstSt, dstB, "cold/a.bin", "cold/big.bin", "cold/x/y.bin")
			for _, o := range objs[:3] {
				data, info := read(t, dstSt, dstB, "cold/"+o.key[len("rel/"):])
				if !bytes.Equal(data, body(o.key, o.size)) {
					t.Fatalf("%s: %d bytes at the destination, not the source's %d", o.key, len(data), o.size)
				}
				if info.ContentType != "application/x-test" || info.UserMetadata["origin"] != "lifecycle-test" {
					t.Fatalf("%s: content type %q, metadata %v", o.key, info.ContentType, info.UserMetadata)
				}
			}
			if tc.move {
				mustKeys(t, srcSt, srcB, "keep/k.bin")
			} else {
				mustKeys(t, srcSt, srcB, "keep/k.bin", "rel/a.bin", "rel/big.bin", "rel/x/y.bin")
			}
			again, res2 := previewThenApply(t, resolve, r, now)
			if len(again.Actions) != 0 || res2.Copied != 0 {
				t.Fatalf("second run: plan %v, copied %d", actionKeys(again.Actions), res2.Copied)
			}
		})
	}
}

// delete and retain-newest on MinIO, and two runs racing on a move.
func TestMinIODeleteRetainRace(t *testing.T) {
	mb, bucket := minioBucket(t)
	resolve := lifecycle.StoreResolver(mb)
	for _, k := range []string{"tmp/1", "tmp/2", "r/s1/a", "r/s2/a", "r/s2/b/c", "r/1", "r/2", "r/3", "r/4", "r/5", ".deltaglider/leases/lifecycle/x.json"} {
		put(t, mb, bucket, k, body(k, 10)) // in this order: Last-Modified never decreases
	}
	now := time.Now().Add(time.Hour)
	del := rule(bucket, "", config.LifecycleAction{Type: config.ActionDelete}, 30*time.Minute)
	del.IncludeGlobs = []string{"tmp/*"}
	previewThenApply(t, resolve, del, now)
	mustKeys(t, mb, bucket, ".deltaglider/leases/lifecycle/x.json", "r/1", "r/2", "r/3", "r/4", "r/5", "r/s1/a", "r/s2/a", "r/s2/b/c")

	keep := rule(bucket, "", config.LifecycleAction{Type: config.ActionRetainNewest, Count: 2}, 0)
	keep.BatchSize = 1 // pages of one key or common prefix
	plan, _ := previewThenApply(t, resolve, keep, now)
	if got := actionKeys(plan.Actions); len(got) != 3 {
		t.Fatalf("retain-newest deletes %v, want r/1 r/2 r/3", got)
	}
	mustKeys(t, mb, bucket, ".deltaglider/leases/lifecycle/x.json", "r/4", "r/5", "r/s1/a", "r/s2/a", "r/s2/b/c")

	clock := testutil.NewClock(t0)
	dir := dirStore(t, clock, "local")
	var objs []object
	for _, k := range []string{"m/a", "m/b", "m/c", "m/d", "m/e", "m/f"} {
		objs = append(objs, object{k, 0, 300 << 10})
	}
	putAll(t, dir, clock, "local", objs)
	resolve2 := func(b string) (lifecycle.Store, string) {
		if b == bucket {
			return mb, b
		}
		return dir, b
	}
	move := rule("local", "m/", config.LifecycleAction{
		Type: config.ActionTransition, Destination: config.JobLocation{Bucket: bucket, Prefix: "moved/"}, DeleteSourceAfterSuccess: true,
	}, day)
	move.BatchSize = 2
	var wg sync.WaitGroup
	errs := make([]error, 2)
	results := make([]*lifecycle.Result, 2)
	for i := range 2 {
		wg.Go(func() {
			results[i], errs[i] = lifecycle.Apply(context.Background(), resolve2, move, t0.Add(2*day), openFence{}, nil)
		})
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil || results[i].Failed != 0 {
			t.Fatalf("run %d: %v, failures %+v", i, errs[i], results[i].Failures)
		}
	}
	mustKeys(t, dir, "local")
	got := keys(t, mb, bucket)
	want := []string{".deltaglider/leases/lifecycle/x.json", "moved/a", "moved/b", "moved/c", "moved/d", "moved/e", "moved/f", "r/4", "r/5", "r/s1/a", "r/s2/a", "r/s2/b/c"}
	if !slices.Equal(got, want) {
		t.Fatalf("MinIO bucket holds %v, want %v", got, want)
	}
	for _, o := range objs {
		if data, _ := read(t, mb, bucket, "moved/"+o.key[2:]); !bytes.Equal(data, body(o.key, o.size)) {
			t.Fatalf("moved/%s: bytes differ", o.key[2:])
		}
	}
}
