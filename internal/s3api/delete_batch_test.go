package s3api

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// batchBackend gives a directory backend a batch delete (which only S3
// backends have) that deletes with the backend's own DeleteObject and
// records each batch; fail, when set, is the whole call's error. Keys
// beginning "alone" it leaves to the caller (storage.ErrNotBatched), as an
// S3 backend leaves deletes naming a version.
type batchBackend struct {
	storage.Backend
	mu      sync.Mutex
	batches [][]storage.ObjectToDelete
	fail    error
}

func (b *batchBackend) DeleteObjects(ctx context.Context, bucket string, objs []storage.ObjectToDelete, bypass bool) ([]storage.DeleteOutcome, error) {
	b.mu.Lock()
	b.batches = append(b.batches, objs)
	fail := b.fail
	b.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	out := make([]storage.DeleteOutcome, len(objs))
	for i, o := range objs {
		if strings.HasPrefix(o.Key, "alone") {
			out[i].Err = storage.ErrNotBatched
			continue
		}
		r, err := b.Backend.DeleteObject(ctx, bucket, o.Key, storage.DeleteOptions{VersionID: o.VersionID, BypassGovernance: bypass})
		if r != nil {
			out[i].Result = *r
		}
		out[i].Err = err
	}
	return out, nil
}

// batchRouter serves every bucket it routes from its batchBackend (over
// the one directory backend the router has).
type batchRouter struct {
	Buckets
	b *batchBackend
}

func (r batchRouter) Resolve(bucket string) (storage.Backend, string) {
	be, name := r.Buckets.Resolve(bucket)
	if be == nil {
		return nil, name
	}
	return r.b, name
}

// TestDeleteObjectsBatchBackend: with a backend that deletes in batches,
// DeleteObjects hands it the keys the caller may delete, in one call, and
// answers each key's outcome; a backend answering NotImplemented is
// deleted from key by key, as are the objects the backend leaves out of
// its batch; a failed batch fails the request.
func TestDeleteObjectsBatchBackend(t *testing.T) {
	fs, router := dirRouter(t)
	bb := &batchBackend{Backend: fs}
	// The writer may delete anything but "secret".
	e := newTestEnvWith(t, false, batchRouter{Buckets: router, b: bb}, func(o *Options) {
		p := o.Principals.(testPrincipals)
		p[writerAK] = &testPrincipal{name: "writer", secret: writerSK, allow: func(a iam.Action, _, key string) bool {
			return a != iam.ActionAdmin && !(a == iam.ActionDelete && key == "secret")
		}}
	})
	c, w := e.root(), e.client(writerAK, writerSK, false)
	ctx := context.Background()
	setupBucket(t, c, "batch")
	for _, k := range []string{"a", "b", "c"} {
		putString(t, c, "batch", k, k)
	}
	del := func(cl *s3.Client, keys ...string) (*s3.DeleteObjectsOutput, error) {
		ids := make([]types.ObjectIdentifier, len(keys))
		for i, k := range keys {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		return cl.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("batch"), Delete: &types.Delete{Objects: ids}})
	}
	deleted := func(out *s3.DeleteObjectsOutput) []string {
		var ks []string
		for _, d := range out.Deleted {
			ks = append(ks, aws.ToString(d.Key))
		}
		sort.Strings(ks)
		return ks
	}

	out, err := del(c, "a", "missing", "b")
	must(t, err, "batch delete")
	if got := deleted(out); len(got) != 3 || len(out.Errors) != 0 {
		t.Fatalf("deleted %v, errors %+v", got, out.Errors)
	}
	if len(bb.batches) != 1 || len(bb.batches[0]) != 3 {
		t.Fatalf("batches %+v, want one of 3", bb.batches)
	}

	// Objects the backend leaves to the caller are deleted one by one.
	putString(t, c, "batch", "alone1", "x")
	putString(t, c, "batch", "d", "x")
	out, err = del(c, "alone1", "d")
	must(t, err, "batch with an object left out")
	if got := deleted(out); len(got) != 2 || len(out.Errors) != 0 {
		t.Fatalf("deleted %v, errors %+v", got, out.Errors)
	}
	for _, k := range []string{"alone1", "d"} {
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("batch"), Key: aws.String(k)}); errStatus(err) != 404 {
			t.Fatalf("%s still there: %v", k, err)
		}
	}
	if len(bb.batches) != 2 || len(bb.batches[1]) != 2 {
		t.Fatalf("batches %+v, want a second of 2", bb.batches)
	}

	// NotImplemented from the backend: key by key, the same answer.
	bb.fail = s3err.ErrNotImplemented
	out, err = del(c, "c")
	must(t, err, "delete after NotImplemented")
	if got := deleted(out); len(got) != 1 || got[0] != "c" {
		t.Fatalf("fallback deleted %v, errors %+v", got, out.Errors)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("batch"), Key: aws.String("c")}); errStatus(err) != 404 {
		t.Fatalf("c still there after the fallback: %v", err)
	}

	// A failed batch fails the request (the client's SDK may retry it).
	bb.fail = s3err.ErrServiceUnavailable
	if _, err := del(c, "x"); errStatus(err) != 503 {
		t.Fatalf("failed batch: %v, want 503", err)
	}
	bb.fail = nil

	// Keys the caller may not delete never reach the backend.
	bb.mu.Lock()
	bb.batches = nil
	bb.mu.Unlock()
	out, err = del(w, "secret", "open")
	must(t, err, "writer's delete")
	if len(out.Errors) != 1 || aws.ToString(out.Errors[0].Key) != "secret" || aws.ToString(out.Errors[0].Code) != "AccessDenied" {
		t.Fatalf("denied key: %+v", out.Errors)
	}
	if len(bb.batches) != 1 || len(bb.batches[0]) != 1 || bb.batches[0][0].Key != "open" {
		t.Fatalf("batches %+v, want [open]", bb.batches)
	}
}
