//go:build integration

package lease_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// The lease promises against real MinIO (DGP_TEST_MINIO), each test on a
// fresh bucket, each node with its own client built as the app builds
// the sync bucket's (the SDK path, its retryer).

// minioBucket creates a fresh bucket and returns a func making a new
// node's Store on it (a client of its own).
func minioBucket(t *testing.T) func() lease.Store {
	t.Helper()
	m := testutil.RequireMinIO(t)
	newBackend := func() *s3backend.Backend {
		be, err := s3backend.New(context.Background(), s3backend.Options{
			Name: "lease", Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
			ForcePathStyle: true, PingTimeout: 5 * time.Second, DisableFastPath: true,
		})
		testutil.Must(t, err, "s3backend.New")
		return be
	}
	admin := newBackend()
	testutil.Must(t, admin.Ping(context.Background()), "ping MinIO %s", m.Endpoint)
	name := testutil.UniqueName("dgp-lease")
	testutil.Must(t, admin.CreateBucket(context.Background(), name, storage.CreateBucketOptions{}), "create bucket %s", name)
	t.Cleanup(func() { removeBucket(t, admin, name) })
	return func() lease.Store { return lease.NewBucketStore(configsync.NewS3Bucket(newBackend(), name)) }
}

func removeBucket(t *testing.T, be *s3backend.Backend, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := be.ListObjects(ctx, bucket, storage.ListOptions{MaxKeys: 1000})
	if err != nil {
		t.Logf("cleanup: list %s: %v", bucket, err)
		return
	}
	for _, o := range res.Objects {
		_, _ = be.DeleteObject(ctx, bucket, o.Key, storage.DeleteOptions{})
	}
	if err := be.DeleteBucket(ctx, bucket); err != nil && !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Logf("cleanup: delete bucket %s: %v", bucket, err)
	}
}

func TestMinIOStoreContract(t *testing.T) {
	storeContract(t, minioBucket(t)(), lease.Key(kind, rule))
}

// Sixteen nodes race for one lease, round after round: exactly one wins
// each time, every loser is told who holds it, and the token rises by one
// per round.
func TestMinIORace16(t *testing.T) {
	newStore := minioBucket(t)
	clock := testutil.NewClock(time.Now().UTC())
	nodes := make([]*node, 16)
	for i := range nodes {
		nodes[i] = newNode(t, newStore(), fmt.Sprintf("node-%02d", i), clock)
	}
	for round := range 5 {
		winners := race(t, nodes)
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1", round, len(winners))
		}
		w := winners[0]
		if w.Token() != uint64(round+1) {
			t.Fatalf("round %d: token %d, want %d", round, w.Token(), round+1)
		}
		holder := w.Record().Holder
		for _, n := range nodes {
			if n.Node() != holder {
				mustBeHeld(t, n, holder)
			}
		}
		testutil.Must(t, w.Check(), "winner's fence")
		testutil.Must(t, w.Release(context.Background()), "release")
	}
}

func TestMinIORenewal(t *testing.T) {
	newStore := minioBucket(t)
	clock := testutil.NewClock(time.Now().UTC())
	tk := newTicker()
	a := newNode(t, newStore(), "a", clock, func(o *lease.Options) { o.After = tk.after })
	b := newNode(t, newStore(), "b", clock)
	l := mustAcquire(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	done := keeperRun(t, ctx, lease.NewKeeper(l))
	for i := 1; i <= 5; i++ { // 5 heartbeats: past the first ttl
		clock.Advance(hb)
		tk.C <- clock.Now()
		want := clock.Now()
		testutil.RetryUntil(t, 20*time.Second, func() error {
			rec, err := b.Read(context.Background(), kind, rule)
			if err != nil {
				return err
			}
			if !rec.Renewed.Equal(want) || rec.Token != 1 || rec.Holder != "a" {
				return fmt.Errorf("record %+v; want renewed at %s", rec, want)
			}
			return nil
		})
		mustBeHeld(t, b, "a")
	}
	testutil.Must(t, l.Check(), "fence after renewals")
	cancel()
	testutil.Must(t, waitRun(t, done), "keeper")
}

func TestMinIOStealOnlyAfterExpiry(t *testing.T) {
	newStore := minioBucket(t)
	clock := testutil.NewClock(time.Now().UTC())
	a, b := newNode(t, newStore(), "a", clock), newNode(t, newStore(), "b", clock)
	mustAcquire(t, a) // a dies: no renewal
	mustBeHeld(t, b, "a")
	clock.Advance(ttl / 2)
	mustBeHeld(t, b, "a")
	clock.Advance(ttl/2 + b.Margin())
	mustBeHeld(t, b, "a") // Expires + margin, not past it
	clock.Advance(time.Millisecond)
	l := mustAcquire(t, b)
	if l.Token() != 2 {
		t.Fatalf("stolen token %d, want 2", l.Token())
	}
	if got := b.metric(t, "dgp_lease_steals_total"); got != 1 {
		t.Fatalf("steals %v, want 1", got)
	}
}

// A holder stalls past the ttl (its clock moves, its Keeper gets no
// heartbeat): the job's next write is refused by the fence, the failure
// is counted and logged, another node steals the lease, and the stalled
// holder's renewal and release never touch the thief's lease.
func TestMinIOPausedHolderFenced(t *testing.T) {
	newStore := minioBucket(t)
	clock, tk := testutil.NewClock(time.Now().UTC()), newTicker()
	a := newNode(t, newStore(), "a", clock, func(o *lease.Options) { o.After = tk.after })
	b := newNode(t, newStore(), "b", clock)
	la := mustAcquire(t, a)
	done := keeperRun(t, context.Background(), lease.NewKeeper(la))
	testutil.Must(t, la.Check(), "fence before the stall") // a write goes ahead

	clock.Advance(ttl + time.Second) // the stall
	err := la.Check()                // the next write
	wantFenced(t, err, lease.ErrExpired)
	if got := a.metric(t, "dgp_lease_fence_refusals_total"); got != 1 {
		t.Fatalf("fence refusals %v, want 1", got)
	}
	if got := a.metric(t, "dgp_lease_lost_renewals_total"); got != 1 {
		t.Fatalf("lost renewals %v, want 1", got)
	}
	if got := a.metric(t, "dgp_lease_held"); got != 0 {
		t.Fatalf("held %v, want 0", got)
	}
	wantFenced(t, waitRun(t, done), lease.ErrExpired) // the keeper stops on its own

	clock.Advance(b.Margin())
	lb := mustAcquire(t, b)
	if lb.Token() != 2 {
		t.Fatalf("thief's token %d, want 2", lb.Token())
	}
	wantFenced(t, la.Renew(context.Background()), lease.ErrExpired)
	testutil.Must(t, la.Release(context.Background()), "stalled holder's release")
	testutil.Must(t, lb.Check(), "thief's fence")
	rec, err := b.Read(context.Background(), kind, rule)
	testutil.Must(t, err, "read")
	if rec.Holder != "b" || rec.Token != 2 || rec.Released {
		t.Fatalf("record %+v; want b's live token 2", rec)
	}
}

func TestMinIOReleaseNextTakesOver(t *testing.T) {
	newStore := minioBucket(t)
	clock := testutil.NewClock(time.Now().UTC())
	a, b := newNode(t, newStore(), "a", clock), newNode(t, newStore(), "b", clock)
	la := mustAcquire(t, a)
	mustBeHeld(t, b, "a")
	testutil.Must(t, la.Release(context.Background()), "release")
	wantFenced(t, la.Check(), lease.ErrReleased)
	lb := mustAcquire(t, b) // the clock did not move
	if lb.Token() != 2 {
		t.Fatalf("token %d, want 2", lb.Token())
	}
	mustBeHeld(t, a, "b")
}

// A conditional write applied by MinIO whose answer is lost (the SDK's
// retry is answered 412) is recognised as the holder's own.
func TestMinIOOwnWriteRecognised(t *testing.T) {
	newStore := minioBucket(t)
	clock := testutil.NewClock(time.Now().UTC())
	store := &faultStore{Store: newStore()}
	a, b := newNode(t, store, "a", clock), newNode(t, newStore(), "b", clock)
	store.lostAck.Store(1)
	l := mustAcquire(t, a)
	clock.Advance(hb)
	store.lostAck.Store(1)
	testutil.Must(t, l.Renew(context.Background()), "renew whose answer was lost")
	clock.Advance(hb)
	testutil.Must(t, l.Renew(context.Background()), "next renew")
	if l.Token() != 1 {
		t.Fatalf("token %d, want 1", l.Token())
	}
	mustBeHeld(t, b, "a")
}
