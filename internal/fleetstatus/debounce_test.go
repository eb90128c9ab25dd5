package fleetstatus

import (
	"context"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// A burst of changes is published once it pauses for Settle, or every
// MaxDelay while it goes on; an unchanged status is never written again.
func TestDebouncePublishesOnceChangesSettle(t *testing.T) {
	ctx := context.Background()
	store := newMemStore(time.Now)
	a := newMember(t, store, "a", 1, fleetKey)
	a.f.o.Watch, a.f.o.Settle, a.f.o.MaxDelay = time.Second, 2*time.Second, 5*time.Second
	testutil.Must(t, a.f.Publish(ctx), "first publish")
	d := a.f.newDebounce()
	published := func() uint64 {
		t.Helper()
		b, err := store.Get(ctx, Key("a"))
		testutil.Must(t, err, "get")
		st, ok, err := decode(Key("a"), b, fleetKey)
		testutil.Must(t, err, "decode")
		if !ok {
			t.Fatal("unverified")
		}
		return st.Generation
	}
	check := func(wantWrite bool) {
		t.Helper()
		wrote, err := d.check(ctx)
		testutil.Must(t, err, "check")
		if wrote != wantWrite {
			t.Fatalf("check wrote %v, want %v (published generation %d)", wrote, wantWrite, published())
		}
	}
	check(false) // nothing changed

	// One change: seen, then the same twice (Settle = two checks): written.
	a.local.set(func(s *Status) { s.Generation = 2 })
	check(false)
	check(false)
	if g := published(); g != 1 {
		t.Fatalf("published generation %d before the change settled", g)
	}
	check(true)
	if g := published(); g != 2 {
		t.Fatalf("published generation %d, want 2", g)
	}
	check(false)

	// Changes at every check: written at the fifth (MaxDelay), with the
	// status of then, and again five checks later.
	for i, want := range []bool{false, false, false, false, true, false, false, false, false, true} {
		a.local.set(func(s *Status) { s.Generation = uint64(3 + i) })
		check(want)
	}
	if g := published(); g != 12 {
		t.Fatalf("published generation %d during the burst, want 12", g)
	}
	// The burst ends: the last status settles and is written.
	check(false)
	check(false)
	check(false)
	a.local.set(func(s *Status) { s.Generation = 13 })
	check(false)
	check(false)
	check(true)
	if g := published(); g != 13 {
		t.Fatalf("published generation %d after the burst, want 13", g)
	}

	// A change back to what is published is no change.
	a.local.set(func(s *Status) { s.Generation = 14 })
	check(false)
	a.local.set(func(s *Status) { s.Generation = 13 })
	check(false)
	check(false)
	check(false)
}

// An instance whose generation is older than the bucket's is not called
// behind until its status had PublishLag to catch up with the change.
func TestListBehindToleratesThePublishLag(t *testing.T) {
	ctx := context.Background()
	store := newMemStore(time.Now)
	old := newMember(t, store, "old", 9, fleetKey)
	testutil.Must(t, old.f.Publish(ctx), "publish")
	lister := newMember(t, store, "lister", 10, fleetKey)
	store.setCurrentAt(10, "e10", t0)
	if lag := lister.f.PublishLag(); lag != DefaultMaxDelay+DefaultWatch {
		t.Errorf("publish lag %s", lag)
	}
	lister.clock.Advance(lister.f.PublishLag())
	if in := byNode(mustList(t, lister.f))["old"]; in.Behind {
		t.Errorf("behind %s after the change (the publish lag)", lister.f.PublishLag())
	}
	lister.clock.Advance(time.Millisecond)
	if in := byNode(mustList(t, lister.f))["old"]; !in.Behind {
		t.Error("not behind past the publish lag")
	}
}
