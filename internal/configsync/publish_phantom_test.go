package configsync_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
)

// dyingBucket makes the next Put of the config key reach the bucket (when
// commit) and then answer a network error, as a bucket killed between its
// commit and its answer does, and fails the config key's next failReads
// Gets after it (-1: all of them) with a network error.
type dyingBucket struct {
	*configsynctest.Faulty
	mu        sync.Mutex
	armed     bool
	failReads int
	reads     int // Gets failed after the Put
}

func newDyingBucket(mem *configsynctest.MemBucket) *dyingBucket {
	d := &dyingBucket{Faulty: configsynctest.NewFaulty(mem)}
	d.OnGet(func(ctx context.Context, key, ifNoneMatch string, next configsynctest.GetFunc) ([]byte, string, error) {
		d.mu.Lock()
		fail := key == testKey && d.armed && (d.failReads < 0 || d.reads < d.failReads)
		if fail {
			d.reads++
		}
		d.mu.Unlock()
		if fail {
			return nil, "", &configsync.BucketError{Op: "get", Err: syscall.ECONNREFUSED}
		}
		return next(ctx, key, ifNoneMatch)
	})
	return d
}

// dieOnNextPut arms the fault: commit says whether the Put lands first.
func (d *dyingBucket) dieOnNextPut(commit bool, failReads int) {
	d.mu.Lock()
	d.failReads, d.reads = failReads, 0
	d.mu.Unlock()
	d.OnPut(func(ctx context.Context, key string, body []byte, ifMatch, ifNoneMatch string, next configsynctest.PutFunc) (string, error) {
		if key != testKey {
			return next(ctx, key, body, ifMatch, ifNoneMatch)
		}
		d.OnPut(nil)
		if commit {
			if _, err := next(ctx, key, body, ifMatch, ifNoneMatch); err != nil {
				return "", err
			}
		}
		d.mu.Lock()
		d.armed = true
		d.mu.Unlock()
		return "", &configsync.BucketError{Op: "put", Err: syscall.ECONNRESET}
	})
}

func (d *dyingBucket) failedReads() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reads
}

// TestPublishPutCommittedThenBucketDies: the bucket stores the DB and dies
// before answering, and comes back a few reads later. The publish reads
// back until it can tell, and reports success: it never says "not made"
// about a change that was made (the phantom 503 the chaos run found).
func TestPublishPutCommittedThenBucketDies(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	d := newDyingBucket(mem)
	n := newNode(t, d)
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))

	d.dieOnNextPut(true, 3)
	st, err := n.Publish(context.Background(), createUser("bob"))
	if err != nil {
		t.Fatalf("Publish after a committed put: %v (want success: the bucket holds it)\nlogs:\n%s", err, n.logs)
	}
	if !hasUser(st, "bob") || st.Generation() != 2 || n.Current() != st {
		t.Fatalf("published state: bob %v, generation %d, current %v", hasUser(st, "bob"), st.Generation(), n.Current() == st)
	}
	if got := d.failedReads(); got != 3 {
		t.Fatalf("%d failed read-backs, want 3 (then one that answered)", got)
	}
	body, etag, _ := mem.Object(testKey)
	if n.Status().ETag != etag {
		t.Fatalf("held etag %q, bucket %q", n.Status().ETag, etag)
	}
	if local, _ := localState(t, n); !hasUser(local, "bob") {
		t.Fatal("the local file lacks the published change")
	}
	if len(n.logs.lines("the bucket holds this db: published")) != 1 {
		t.Fatalf("want the read-back logged:\n%s", n.logs)
	}
	_ = body
}

// TestPublishPutCommittedOutcomeUnknown: the bucket stores the DB and
// stays down past the read-back budget: the publish answers
// ErrOutcomeUnknown, never ErrUnavailable ("nothing changed"), and the
// change, which was made, is adopted by the next pull.
func TestPublishPutCommittedOutcomeUnknown(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	d := newDyingBucket(mem)
	n := newNode(t, d, func(o *configsync.Options) { o.RequestTimeout = 300 * time.Millisecond })
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))

	d.dieOnNextPut(true, -1)
	_, err := n.Publish(context.Background(), createUser("bob"))
	wantErrIs(t, err, configsync.ErrOutcomeUnknown)
	if errors.Is(err, configsync.ErrUnavailable) {
		t.Fatalf("error %v wraps ErrUnavailable: it would be answered \"not made\"", err)
	}
	if d.failedReads() < 2 {
		t.Fatalf("%d read-backs, want retries", d.failedReads())
	}
	if hasUser(n.Current(), "bob") {
		t.Fatal("a publish of unknown outcome changed the snapshot")
	}
	if got := n.metric(t, "dgp_config_sync_publishes_total", "result", configsync.PublishUnavailable); got != 1 {
		t.Fatalf("publishes_total{unavailable} = %v, want 1", got)
	}

	// The bucket comes back: the change was made, and a pull finds it.
	d.mu.Lock()
	d.armed = false
	d.mu.Unlock()
	mustSyncNow(t, n)
	if !hasUser(n.Current(), "bob") {
		t.Fatal("the change made by the publish of unknown outcome is not pulled")
	}
}

// TestPublishPutLostBucketDies: the Put never lands and the bucket answers
// again a few reads later with the base still there: that is certain, and
// the publish answers ErrUnavailable ("nothing changed").
func TestPublishPutLostBucketDies(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	d := newDyingBucket(mem)
	n := newNode(t, d)
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	before, _, _ := mem.Object(testKey)

	d.dieOnNextPut(false, 2)
	_, err := n.Publish(context.Background(), createUser("bob"))
	wantErrIs(t, err, configsync.ErrUnavailable)
	if errors.Is(err, configsync.ErrOutcomeUnknown) {
		t.Fatalf("error %v: the base was read back, the outcome is known", err)
	}
	if after, _, _ := mem.Object(testKey); !bytes.Equal(before, after) || hasUser(n.Current(), "bob") {
		t.Fatal("a publish answered \"not made\" changed something")
	}
	if got := d.failedReads(); got != 2 {
		t.Fatalf("%d failed read-backs, want 2", got)
	}
}

// TestPublishOutcomeUnknownHonoursContext: the read-back stops when the
// caller's context ends.
func TestPublishOutcomeUnknownHonoursContext(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	d := newDyingBucket(mem)
	n := newNode(t, d, func(o *configsync.Options) { o.ConflictBackoff = 50 * time.Millisecond })
	mustStart(t, n)
	d.dieOnNextPut(true, -1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.OnGet(func(gctx context.Context, key, ifNoneMatch string, next configsynctest.GetFunc) ([]byte, string, error) {
		d.mu.Lock()
		armed := d.armed
		d.mu.Unlock()
		if key == testKey && armed {
			cancel() // the client goes away while the bucket is down
			return nil, "", &configsync.BucketError{Op: "get", Err: syscall.ECONNREFUSED}
		}
		return next(gctx, key, ifNoneMatch)
	})
	_, err := n.Publish(ctx, createUser("bob"))
	wantErrIs(t, err, configsync.ErrOutcomeUnknown)
}
