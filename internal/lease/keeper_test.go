package lease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// ticker drives a Keeper: each send on C is one heartbeat.
type ticker struct{ C chan time.Time }

func newTicker() *ticker { return &ticker{C: make(chan time.Time)} }

func (tk *ticker) after(time.Duration) <-chan time.Time { return tk.C }

// keeperRun starts k.Run in a goroutine the test waits for.
func keeperRun(t *testing.T, ctx context.Context, k *lease.Keeper) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	return done
}

func waitRun(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Keeper.Run did not return")
		return nil
	}
}

func TestKeeperRenewsAndReleasesOnStop(t *testing.T) {
	store, clock, tk := dirStore(t), testutil.NewClock(t0), newTicker()
	a := newNode(t, store, "a", clock, func(o *lease.Options) { o.After = tk.after })
	b := newNode(t, store, "b", clock)
	l := mustAcquire(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	done := keeperRun(t, ctx, lease.NewKeeper(l))
	for i := 1; i <= 4; i++ {
		clock.Advance(hb)
		tk.C <- clock.Now()
		want := clock.Now()
		testutil.RetryUntil(t, 10*time.Second, func() error {
			if got := l.Record().Renewed; !got.Equal(want) {
				return errors.New("renewal " + want.String() + " not written yet; last " + got.String())
			}
			return nil
		})
	}
	testutil.Must(t, l.Check(), "fence after 4 heartbeats (past the first ttl)")
	mustBeHeld(t, b, "a")
	cancel()
	testutil.Must(t, waitRun(t, done), "Run after cancel")
	wantFenced(t, l.Check(), lease.ErrReleased)
	if lb := mustAcquire(t, b); lb.Token() != 2 { // released: no wait
		t.Fatalf("token %d, want 2", lb.Token())
	}
}

func TestKeeperStopsOnMissedRenewal(t *testing.T) {
	store := &faultStore{Store: dirStore(t)}
	clock, tk := testutil.NewClock(t0), newTicker()
	a := newNode(t, store, "a", clock, func(o *lease.Options) { o.After = tk.after })
	l := mustAcquire(t, a)
	done := keeperRun(t, context.Background(), lease.NewKeeper(l))
	store.drop.Store(1)
	tk.C <- clock.Now()
	wantFenced(t, waitRun(t, done), lease.ErrMissedRenewal)
	wantFenced(t, l.Check(), lease.ErrMissedRenewal)
	if got := a.metric(t, "dgp_lease_held"); got != 0 {
		t.Fatalf("dgp_lease_held = %v after a missed renewal", got)
	}
}

func TestKeeperStopsWhenReleased(t *testing.T) {
	store, clock, tk := dirStore(t), testutil.NewClock(t0), newTicker()
	a := newNode(t, store, "a", clock, func(o *lease.Options) { o.After = tk.after })
	l := mustAcquire(t, a)
	done := keeperRun(t, context.Background(), lease.NewKeeper(l))
	testutil.Must(t, l.Release(context.Background()), "release")
	wantFenced(t, waitRun(t, done), lease.ErrReleased)
}

// With the real clock and timer, a short heartbeat keeps the lease.
func TestKeeperRealTime(t *testing.T) {
	store := dirStore(t)
	n, err := lease.New(lease.Options{Store: store, Node: "a", TTL: 20 * time.Second, Heartbeat: 10 * time.Millisecond})
	testutil.Must(t, err, "new")
	l, err := n.Acquire(context.Background(), kind, rule, "")
	testutil.Must(t, err, "acquire")
	ctx, cancel := context.WithCancel(context.Background())
	done := keeperRun(t, ctx, lease.NewKeeper(l))
	first := l.Record().Renewed
	testutil.RetryUntil(t, 20*time.Second, func() error {
		if !l.Record().Renewed.After(first) {
			return errors.New("not renewed yet")
		}
		return nil
	})
	testutil.Must(t, l.Check(), "fence")
	cancel()
	testutil.Must(t, waitRun(t, done), "Run")
	rec, err := n.Read(context.Background(), kind, rule)
	testutil.Must(t, err, "read")
	if !rec.Released || rec.Token != 1 {
		t.Fatalf("record after stop %+v", rec)
	}
}
