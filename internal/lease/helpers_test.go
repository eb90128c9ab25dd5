package lease_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

const (
	kind = lease.KindReplication
	rule = "releases"
	ttl  = lease.DefaultTTL
	hb   = lease.DefaultHeartbeat
)

var t0 = time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)

// node is one instance: a Manager with its own registry, clock and log.
type node struct {
	*lease.Manager
	reg   *prometheus.Registry
	clock *testutil.Clock
	log   *testutil.LogBuffer
}

// newNode returns a Manager named name on store, on clock.
func newNode(t testing.TB, store lease.Store, name string, clock *testutil.Clock, mods ...func(*lease.Options)) *node {
	t.Helper()
	n := &node{reg: prometheus.NewRegistry(), clock: clock, log: &testutil.LogBuffer{}}
	o := lease.Options{
		Store: store, Node: name, Now: clock.Now, Registerer: n.reg,
		Logger: zerolog.New(n.log).With().Str("component", "jobs").Logger(),
	}
	for _, f := range mods {
		f(&o)
	}
	m, err := lease.New(o)
	testutil.Must(t, err, "lease.New %s", name)
	n.Manager = m
	return n
}

// dirStore returns a DirStore on a fresh directory.
func dirStore(t testing.TB) *lease.DirStore {
	t.Helper()
	s, err := lease.NewDirStore(t.TempDir())
	testutil.Must(t, err, "NewDirStore")
	return s
}

// metric returns the value of the series name{kind,rule} in n's registry
// (0 when absent).
func (n *node) metric(t testing.TB, name string) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	testutil.Must(t, err, "gather")
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["kind"] != kind || labels["rule"] != rule {
				continue
			}
			if m.Gauge != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// mustAcquire acquires the lease on n, failing the test otherwise.
func mustAcquire(t testing.TB, n *node) *lease.Lease {
	t.Helper()
	l, err := n.Acquire(context.Background(), kind, rule, "sha256:def")
	testutil.Must(t, err, "acquire on %s", n.Node())
	return l
}

// mustBeHeld asserts that n's Acquire answers a HeldError naming holder.
func mustBeHeld(t testing.TB, n *node, holder string) *lease.HeldError {
	t.Helper()
	l, err := n.Acquire(context.Background(), kind, rule, "sha256:def")
	if err == nil {
		t.Fatalf("%s acquired the lease (token %d); want it held by %s", n.Node(), l.Token(), holder)
	}
	var he *lease.HeldError
	if !errors.As(err, &he) || !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("%s: acquire: %v; want a HeldError", n.Node(), err)
	}
	if he.Record.Holder != holder {
		t.Fatalf("%s: held by %q, want %q", n.Node(), he.Record.Holder, holder)
	}
	return he
}

// wantFenced asserts that err is a fence refusal for reason.
func wantFenced(t testing.TB, err, reason error) {
	t.Helper()
	if !errors.Is(err, lease.ErrFenced) || !errors.Is(err, reason) {
		t.Fatalf("got %v; want a fence refusal for %v", err, reason)
	}
}

var errInjected = errors.New("injected: connection reset by peer")

// faultStore wraps a real Store and injects faults a healthy store does
// not produce on demand: conditional writes dropped before they reach
// the store (a partition), or applied with their answer lost.
type faultStore struct {
	lease.Store
	drop     atomic.Int32 // the next n PutIfMatch fail with errInjected, unapplied
	lostAck  atomic.Int32 // the next n writes apply, then answer ErrConflict (a retry's 412)
	ackError atomic.Int32 // the next n writes apply, then answer errInjected
}

func take(c *atomic.Int32) bool {
	for {
		v := c.Load()
		if v <= 0 {
			return false
		}
		if c.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

func (f *faultStore) after(etag string, err error) (string, error) {
	if err != nil {
		return etag, err
	}
	if take(&f.lostAck) {
		return "", lease.ErrConflict
	}
	if take(&f.ackError) {
		return "", errInjected
	}
	return etag, nil
}

func (f *faultStore) PutIfNoneMatch(ctx context.Context, key string, body []byte) (string, error) {
	return f.after(f.Store.PutIfNoneMatch(ctx, key, body))
}

func (f *faultStore) PutIfMatch(ctx context.Context, key string, body []byte, etag string) (string, error) {
	if take(&f.drop) {
		return "", errInjected
	}
	return f.after(f.Store.PutIfMatch(ctx, key, body, etag))
}

// storeContract checks the Store promises every implementation keeps:
// ErrNotFound, exclusive create, replace only on the current ETag (a
// missing object is a conflict), a new ETag per distinct write.
func storeContract(t *testing.T, s lease.Store, key string) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := s.Get(ctx, key); !errors.Is(err, lease.ErrNotFound) {
		t.Fatalf("get of a missing key: %v, want ErrNotFound", err)
	}
	if _, err := s.PutIfMatch(ctx, key, []byte("x"), "0123456789abcdef0123456789abcdef"); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("replace of a missing key: %v, want ErrConflict", err)
	}
	e1, err := s.PutIfNoneMatch(ctx, key, []byte("one"))
	testutil.Must(t, err, "create")
	if _, err := s.PutIfNoneMatch(ctx, key, []byte("two")); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	body, etag, err := s.Get(ctx, key)
	testutil.Must(t, err, "get")
	if string(body) != "one" || etag != e1 {
		t.Fatalf("got %q etag %s, want one etag %s", body, etag, e1)
	}
	e2, err := s.PutIfMatch(ctx, key, []byte("three"), e1)
	testutil.Must(t, err, "replace")
	if e2 == e1 || e2 == "" {
		t.Fatalf("etag %q after a replace of %q", e2, e1)
	}
	if _, err := s.PutIfMatch(ctx, key, []byte("four"), e1); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("replace with a stale etag: %v, want ErrConflict", err)
	}
	body, etag, err = s.Get(ctx, key)
	testutil.Must(t, err, "get")
	if string(body) != "three" || etag != e2 {
		t.Fatalf("got %q etag %s, want three etag %s", body, etag, e2)
	}
}
