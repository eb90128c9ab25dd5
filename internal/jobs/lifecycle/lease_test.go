package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/jobs/lifecycle"
	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// With a real lease as the fence: a holder stalled past its TTL after
// three deletes (the Observer moves the lease's clock, as a pause would)
// is refused at its next delete, and the run stops there.
func TestLeaseFenceStopsRun(t *testing.T) {
	clock := testutil.NewClock(t0)
	be := dirStore(t, clock, "b")
	var objs []object
	for _, k := range strings.Fields("k0 k1 k2 k3 k4 k5") {
		objs = append(objs, object{k, 0, 10})
	}
	putAll(t, be, clock, "b", objs)

	leaseClock := testutil.NewClock(t0)
	store, err := lease.NewDirStore(t.TempDir())
	testutil.Must(t, err, "lease dir store")
	m, err := lease.New(lease.Options{Store: store, Node: "node-1", Now: leaseClock.Now})
	testutil.Must(t, err, "lease manager")
	r := rule("b", "", config.LifecycleAction{Type: config.ActionDelete}, day)
	l, err := m.Acquire(context.Background(), "lifecycle", r.Name, r.Hash())
	testutil.Must(t, err, "acquire")

	deleted := 0
	stall := lifecycle.ObserverFunc(func(e lifecycle.Event) {
		if e.Outcome == lifecycle.Deleted {
			if deleted++; deleted == 3 {
				leaseClock.Advance(2 * time.Minute) // past lease_ttl, no renewal
			}
		}
	})
	// One object at a time: with several workers, deletes that passed the
	// check before the stall would go through (each write is checked
	// when it starts).
	res, err := lifecycle.ApplyWith(context.Background(), lifecycle.StoreResolver(be), r, t0.Add(2*day), l, stall, lifecycle.Options{Concurrency: 1})
	if !errors.Is(err, lease.ErrFenced) {
		t.Fatalf("apply: %v, want lease.ErrFenced", err)
	}
	if res.Deleted != 3 {
		t.Fatalf("deleted %d, want 3", res.Deleted)
	}
	mustKeys(t, be, "b", "k3", "k4", "k5")
}
