package lease_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// Tests of the lease protocol on the DirStore (a real directory) with a
// manual clock; integration_test.go runs the same promises on MinIO.

func TestAcquireThenHeld(t *testing.T) {
	store, clock := dirStore(t), testutil.NewClock(t0)
	a, b := newNode(t, store, "a", clock), newNode(t, store, "b", clock)
	l := mustAcquire(t, a)
	if l.Token() != 1 || l.Kind() != kind || l.Rule() != rule {
		t.Fatalf("lease %s/%s token %d; want %s/%s token 1", l.Kind(), l.Rule(), l.Token(), kind, rule)
	}
	testutil.Must(t, l.Check(), "fence of a fresh lease")
	mustBeHeld(t, b, "a")
	mustBeHeld(t, a, "a") // this Manager's live lease is not taken twice

	rec, err := b.Read(context.Background(), kind, rule)
	testutil.Must(t, err, "read")
	if rec.Holder != "a" || rec.Token != 1 || !rec.Expires.Equal(t0.Add(ttl)) || rec.RuleHash != "sha256:def" ||
		!rec.HeldAt(clock.Now()) || rec.Instance != a.Instance() {
		t.Fatalf("record %+v", rec)
	}
	if got := a.metric(t, "dgp_lease_held"); got != 1 {
		t.Fatalf("dgp_lease_held = %v, want 1", got)
	}
	if got := a.metric(t, "dgp_lease_acquisitions_total"); got != 1 {
		t.Fatalf("acquisitions = %v, want 1", got)
	}
	if !strings.Contains(a.log.String(), `"token":1`) || !strings.Contains(a.log.String(), `"node":"a"`) {
		t.Fatalf("log lacks token/node fields:\n%s", a.log.String())
	}
}

func TestRenewExtends(t *testing.T) {
	store, clock := dirStore(t), testutil.NewClock(t0)
	a, b := newNode(t, store, "a", clock), newNode(t, store, "b", clock)
	l := mustAcquire(t, a)
	mustBeHeld(t, b, "a")
	for i := 1; i <= 5; i++ {
		clock.Advance(hb)
		testutil.Must(t, l.Renew(context.Background()), "renew %d", i)
		if want := clock.Now().Add(ttl - a.Margin()); !l.Deadline().Equal(want) {
			t.Fatalf("deadline %s, want %s", l.Deadline(), want)
		}
		mustBeHeld(t, b, "a") // 5 heartbeats is past the first ttl: renewals keep it
	}
	rec, err := b.Read(context.Background(), kind, rule)
	testutil.Must(t, err, "read")
	if rec.Token != 1 || !rec.Renewed.Equal(clock.Now()) || !rec.Expires.Equal(clock.Now().Add(ttl)) || !rec.Acquired.Equal(t0) {
		t.Fatalf("record after renewals %+v", rec)
	}
	testutil.Must(t, l.Check(), "fence after renewals")
}

func TestStealOnlyAfterExpiry(t *testing.T) {
	store, clock := dirStore(t), testutil.NewClock(t0)
	a, b := newNode(t, store, "a", clock), newNode(t, store, "b", clock)
	la := mustAcquire(t, a) // then a stalls: no renewal
	clock.Advance(ttl)
	he := mustBeHeld(t, b, "a") // at Expires: within the margin
	if want := t0.Add(ttl + b.Margin() + time.Millisecond); !he.RetryAt.Equal(want) {
		t.Fatalf("RetryAt %s, want %s", he.RetryAt, want)
	}
	clock.Advance(b.Margin())
	mustBeHeld(t, b, "a") // at Expires + margin exactly
	clock.Advance(time.Millisecond)
	lb := mustAcquire(t, b)
	if lb.Token() != 2 {
		t.Fatalf("stolen lease token %d, want 2", lb.Token())
	}
	if got := b.metric(t, "dgp_lease_steals_total"); got != 1 {
		t.Fatalf("steals = %v, want 1", got)
	}
	// The stalled holder wakes up: its fence is shut, its renewal refused
	// without writing.
	wantFenced(t, la.Check(), lease.ErrExpired)
	wantFenced(t, la.Renew(context.Background()), lease.ErrExpired)
	rec, err := a.Read(context.Background(), kind, rule)
	testutil.Must(t, err, "read")
	if rec.Holder != "b" || rec.Token != 2 {
		t.Fatalf("record %+v; want b's token 2", rec)
	}
	if got := a.metric(t, "dgp_lease_held"); got != 0 {
		t.Fatalf("a's dgp_lease_held = %v, want 0", got)
	}
}

// A holder whose lease was taken (its clock did not move, another's did)
// finds its renewal refused by the store: ErrLost.
func TestRenewAfterStealIsLost(t *testing.T) {
	store := dirStore(t)
	ca, cb := testutil.NewClock(t0), testutil.NewClock(t0)
	a, b := newNode(t, store, "a", ca), newNode(t, store, "b", cb)
	la := mustAcquire(t, a)
	cb.Advance(ttl + b.Margin() + time.Second)
	lb := mustAcquire(t, b)
	err := la.Renew(context.Background())
	wantFenced(t, err, lease.ErrLost)
	wantFenced(t, la.Check(), lease.ErrLost)
	if got := a.metric(t, "dgp_lease_lost_renewals_total"); got != 1 {
		t.Fatalf("lost renewals = %v, want 1", got)
	}
	testutil.Must(t, la.Release(context.Background()), "release of a lost lease")
	testutil.Must(t, lb.Check(), "the thief's fence") // a's release did not touch b's lease
	mustBeHeld(t, a, "b")
}

func TestFenceRefusesAfterMissedRenewal(t *testing.T) {
	store := &faultStore{Store: dirStore(t)}
	clock := testutil.NewClock(t0)
	a, b := newNode(t, store, "a", clock), newNode(t, store, "b", clock)
	l := mustAcquire(t, a)
	clock.Advance(hb)
	store.drop.Store(1) // the renewal never reaches the store
	err := l.Renew(context.Background())
	wantFenced(t, err, lease.ErrMissedRenewal)
	if !errors.Is(err, errInjected) {
		t.Fatalf("renewal error %v does not carry the cause", err)
	}
	// Well before the ttl, the next write is refused all the same.
	wantFenced(t, l.Check(), lease.ErrMissedRenewal)
	select {
	case <-l.Done():
	default:
		t.Fatal("Done not closed after a missed renewal")
	}
	if got := a.metric(t, "dgp_lease_lost_renewals_total"); got != 1 {
		t.Fatalf("lost renewals = %v, want 1", got)
	}
	if got := a.metric(t, "dgp_lease_fence_refusals_total"); got != 1 {
		t.Fatalf("fence refusals = %v, want 1", got)
	}
	// Others still see a live lease; the same instance takes it again
	// at once, as a new run with a new token.
	mustBeHeld(t, b, "a")
	l2 := mustAcquire(t, a)
	if l2.Token() != 2 {
		t.Fatalf("re-taken lease token %d, want 2", l2.Token())
	}
	wantFenced(t, l.Check(), lease.ErrMissedRenewal) // the old run stays fenced
}

func TestStalledHolderRefused(t *testing.T) {
	store, clock := dirStore(t), testutil.NewClock(t0)
	a := newNode(t, store, "a", clock)
	l := mustAcquire(t, a)
	clock.Advance(ttl - a.Margin() - time.Millisecond)
	testutil.Must(t, l.Check(), "fence just before the local deadline")
	clock.Advance(time.Millisecond) // the stall reaches the local deadline
	wantFenced(t, l.Check(), lease.ErrExpired)
	wantFenced(t, l.Check(), lease.ErrExpired)
	if got := a.metric(t, "dgp_lease_fence_refusals_total"); got != 2 {
		t.Fatalf("fence refusals = %v, want 2", got)
	}
	if got := a.metric(t, "dgp_lease_held"); got != 0 {
		t.Fatalf("dgp_lease_held = %v, want 0", got)
	}
}

func TestReleaseLetsNextTakeOverAtOnce(t *testing.T) {
	store, clock := dirStore(t), testutil.NewClock(t0)
	a, b := newNode(t, store, "a", clock), newNode(t, store, "b", clock)
	la := mustAcquire(t, a)
	mustBeHeld(t, b, "a")
	testutil.Must(t, la.Release(context.Background()), "release")
	wantFenced(t, la.Check(), lease.ErrReleased)
	testutil.Must(t, la.Release(context.Background()), "second release")
	lb := mustAcquire(t, b) // no clock advance
	if lb.Token() != 2 {
		t.Fatalf("token %d after release, want 2", lb.Token())
	}
	if got := b.metric(t, "dgp_lease_steals_total"); got != 0 {
		t.Fatalf("taking a released lease counted as a steal")
	}
	if got := a.metric(t, "dgp_lease_lost_renewals_total"); got != 0 {
		t.Fatalf("a release counted as a lost renewal")
	}
}

func TestTokenIncreasesAcrossHolders(t *testing.T) {
	store, clock := dirStore(t), testutil.NewClock(t0)
	nodes := make([]*node, 4)
	for i := range nodes {
		nodes[i] = newNode(t, store, string(rune('a'+i)), clock)
	}
	var last uint64
	for round := range 12 {
		n := nodes[round%len(nodes)]
		l := mustAcquire(t, n)
		if l.Token() != last+1 {
			t.Fatalf("round %d: token %d after %d", round, l.Token(), last)
		}
		last = l.Token()
		if round%2 == 0 {
			testutil.Must(t, l.Release(context.Background()), "release")
		} else {
			clock.Advance(ttl + n.Margin() + time.Second) // the holder dies: the next one steals
		}
	}
}

// A conditional write whose answer is lost and whose retry is refused
// (412) was applied: the holder recognises its own write by the nonce.
func TestOwnWriteRecognised(t *testing.T) {
	store := &faultStore{Store: dirStore(t)}
	clock := testutil.NewClock(t0)
	a, b := newNode(t, store, "a", clock), newNode(t, store, "b", clock)
	store.lostAck.Store(1)
	l := mustAcquire(t, a)
	if l.Token() != 1 {
		t.Fatalf("token %d, want 1", l.Token())
	}
	clock.Advance(hb)
	store.lostAck.Store(1)
	testutil.Must(t, l.Renew(context.Background()), "renew whose answer was lost")
	clock.Advance(hb)
	testutil.Must(t, l.Renew(context.Background()), "next renew (with the ETag read back)")
	testutil.Must(t, l.Check(), "fence")
	mustBeHeld(t, b, "a")
}

// A renewal applied but answered with an error is a missed renewal; the
// object still names this instance, which takes it again at once.
func TestAmbiguousRenewal(t *testing.T) {
	store := &faultStore{Store: dirStore(t)}
	clock := testutil.NewClock(t0)
	a := newNode(t, store, "a", clock)
	l := mustAcquire(t, a)
	store.ackError.Store(1)
	wantFenced(t, l.Renew(context.Background()), lease.ErrMissedRenewal)
	l2 := mustAcquire(t, a)
	if l2.Token() != 2 {
		t.Fatalf("token %d, want 2", l2.Token())
	}
}

func TestClockSkew(t *testing.T) {
	t.Run("holder ahead: stolen after ttl+margin of observation", func(t *testing.T) {
		store := dirStore(t)
		a := newNode(t, store, "a", testutil.NewClock(t0.Add(time.Hour)))
		cb := testutil.NewClock(t0)
		b := newNode(t, store, "b", cb)
		mustAcquire(t, a) // then a dies; its Expires is an hour in b's future
		if he := mustBeHeld(t, b, "a"); !he.RetryAt.Equal(t0.Add(ttl + b.Margin() + time.Millisecond)) {
			t.Fatalf("RetryAt %s: want by observation", he.RetryAt)
		}
		cb.Advance(ttl + b.Margin())
		mustBeHeld(t, b, "a")
		cb.Advance(time.Millisecond)
		if l := mustAcquire(t, b); l.Token() != 2 {
			t.Fatalf("token %d", l.Token())
		}
		if !strings.Contains(b.log.String(), "clock disagrees") {
			t.Fatalf("no skew warning in b's log:\n%s", b.log.String())
		}
	})
	t.Run("holder's clock steps back: a holder seen renewing is not stolen", func(t *testing.T) {
		store := dirStore(t)
		ca, cb := testutil.NewClock(t0), testutil.NewClock(t0)
		a, b := newNode(t, store, "a", ca), newNode(t, store, "b", cb)
		la := mustAcquire(t, a)
		mustBeHeld(t, b, "a")
		ca.Advance(-time.Hour) // a's clock is stepped an hour back
		ca.Advance(hb)
		cb.Advance(hb)
		testutil.Must(t, la.Renew(context.Background()), "renew")
		mustBeHeld(t, b, "a") // its Expires is long past on b's clock, but b saw it change
		cb.Advance(ttl + b.Margin())
		mustBeHeld(t, b, "a")
		cb.Advance(time.Millisecond)
		mustAcquire(t, b) // no renewal seen for more than ttl + margin: stolen
	})
}

// Sixteen managers race for one lease on one directory: exactly one wins.
func TestRaceOnDirStore(t *testing.T) {
	store, clock := dirStore(t), testutil.NewClock(t0)
	nodes := make([]*node, 16)
	for i := range nodes {
		nodes[i] = newNode(t, store, "n"+string(rune('a'+i)), clock)
	}
	for round := range 3 {
		winners := race(t, nodes)
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners", round, len(winners))
		}
		testutil.Must(t, winners[0].Release(context.Background()), "release")
	}
}

// race makes nodes Acquire at once and returns the leases won; every
// loser must have been answered ErrHeld.
func race(t testing.TB, nodes []*node) []*lease.Lease {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []*lease.Lease
		start   = make(chan struct{})
	)
	for _, n := range nodes {
		wg.Go(func() {
			<-start
			l, err := n.Acquire(context.Background(), kind, rule, "sha256:def")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, l)
			case !errors.Is(err, lease.ErrHeld):
				t.Errorf("%s: %v", n.Node(), err)
			}
		})
	}
	close(start)
	wg.Wait()
	return winners
}
