package fleetstatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// memStore is a Store in memory: objects stamped with the clock's time,
// a settable config DB generation, and an injectable Put failure.
type memStore struct {
	now     func() time.Time
	mu      sync.Mutex
	objs    map[string]memObj
	gen     uint64
	etag    string
	genMod  time.Time
	putErr  error
	deleted []string
}

type memObj struct {
	body []byte
	mod  time.Time
}

var _ Store = (*memStore)(nil)

func newMemStore(now func() time.Time) *memStore {
	return &memStore{now: now, objs: map[string]memObj{}}
}

func (m *memStore) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[key]
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Clone(o.body), nil
}

func (m *memStore) Put(_ context.Context, key string, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.putErr != nil {
		return m.putErr
	}
	m.objs[key] = memObj{body: slices.Clone(body), mod: m.now()}
	return nil
}

// putAt writes an object with a given modification time.
func (m *memStore) putAt(key string, body []byte, mod time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = memObj{body: body, mod: mod}
}

func (m *memStore) List(_ context.Context, prefix string) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Entry
	for k, o := range m.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, Entry{Key: k, LastModified: o.mod})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (m *memStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	m.deleted = append(m.deleted, key)
	return nil
}

func (m *memStore) Current(context.Context) (BucketDB, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return BucketDB{Generation: m.gen, ETag: m.etag, Modified: m.genMod}, nil
}

// setCurrent sets the bucket's config DB, last modified long ago.
func (m *memStore) setCurrent(gen uint64, etag string) {
	m.setCurrentAt(gen, etag, time.Time{})
}

func (m *memStore) setCurrentAt(gen uint64, etag string, mod time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen, m.etag, m.genMod = gen, etag, mod
}

func (m *memStore) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ks []string
	for k := range m.objs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var (
	t0       = time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	fleetKey = DeriveKey([]byte("fleet-bootstrap-password"))
)

// local is a settable local status.
type local struct {
	mu sync.Mutex
	st Status
}

func (l *local) get() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.st
	st.EventSources = slices.Clone(st.EventSources)
	return st
}

func (l *local) set(f func(*Status)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(&l.st)
}

// member is one instance of a test fleet, with its own clock.
type member struct {
	f     *Fleet
	clock *testutil.Clock
	local *local
}

func newMember(t *testing.T, store Store, node string, gen uint64, key []byte) *member {
	t.Helper()
	m := &member{clock: testutil.NewClock(t0), local: &local{st: Status{
		Version: "test", Role: "reader", Schema: 2, Generation: gen, ETag: "etag-" + node,
		LastPull: t0.Add(-time.Minute), PullSource: "event",
		EventSources: []EventSource{{Name: "nats", Connected: true}},
		AdminURL:     "http://" + node + ".internal:9000",
	}}}
	var err error
	m.f, err = New(Options{Store: store, Node: node, Local: m.local.get, Key: key, Now: m.clock.Now})
	testutil.Must(t, err, "new fleet %s", node)
	return m
}

func mustList(t *testing.T, f *Fleet) View {
	t.Helper()
	v, err := f.List(context.Background())
	testutil.Must(t, err, "list")
	return v
}

func byNode(v View) map[string]Instance {
	m := map[string]Instance{}
	for _, in := range v.Instances {
		m[in.Node] = in
	}
	return m
}

func TestListMarksStaleAfterThreeIntervals(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock(t0)
	store := newMemStore(clock.Now)
	store.setCurrent(7, "cur")
	a := newMember(t, store, "a", 7, fleetKey)
	b := newMember(t, store, "b", 7, fleetKey)
	testutil.Must(t, a.f.Publish(ctx), "publish a")
	testutil.Must(t, b.f.Publish(ctx), "publish b")

	cases := []struct {
		after     time.Duration // since b published; a republishes every time
		wantStale bool
	}{
		{0, false},
		{89 * time.Second, false},
		{90 * time.Second, false}, // exactly three intervals: not older
		{91 * time.Second, true},
		{time.Hour, true},
	}
	for _, c := range cases {
		a.clock = testutil.NewClock(t0.Add(c.after))
		a.f.o.Now = a.clock.Now
		testutil.Must(t, a.f.Publish(ctx), "publish a")
		v := mustList(t, a.f)
		rows := byNode(v)
		if len(rows) != 2 {
			t.Fatalf("after %s: %d instances, want 2: %+v", c.after, len(rows), v)
		}
		if got := rows["b"].Stale; got != c.wantStale {
			t.Errorf("after %s: b stale %v, want %v", c.after, got, c.wantStale)
		}
		if rows["a"].Stale {
			t.Errorf("after %s: a (just published) is stale", c.after)
		}
		if !rows["a"].Self || rows["b"].Self {
			t.Errorf("self flags: a %v, b %v", rows["a"].Self, rows["b"].Self)
		}
	}
}

// A status states its own interval; staleness is judged by it, not by the
// lister's.
func TestStaleUsesThePublishersInterval(t *testing.T) {
	ctx := context.Background()
	store := newMemStore(time.Now)
	slow := newMember(t, store, "slow", 1, fleetKey)
	slow.f.o.Interval = 5 * time.Minute
	testutil.Must(t, slow.f.Publish(ctx), "publish")
	lister := newMember(t, store, "lister", 1, fleetKey)
	lister.clock.Advance(14 * time.Minute)
	if in := byNode(mustList(t, lister.f))["slow"]; in.Stale || in.IntervalSeconds != 300 {
		t.Errorf("14 min after a 5-min publisher: %+v, want not stale, interval 300", in)
	}
	lister.clock.Advance(2 * time.Minute)
	if in := byNode(mustList(t, lister.f))["slow"]; !in.Stale {
		t.Errorf("16 min after a 5-min publisher: not stale")
	}
}

func TestListMarksBehind(t *testing.T) {
	ctx := context.Background()
	store := newMemStore(time.Now)
	store.setCurrent(10, "bucket-etag")
	for node, gen := range map[string]uint64{"old": 9, "same": 10, "ahead": 11, "none": 0} {
		testutil.Must(t, newMember(t, store, node, gen, fleetKey).f.Publish(ctx), "publish %s", node)
	}
	lister := newMember(t, store, "same", 10, fleetKey)
	v := mustList(t, lister.f)
	if v.BucketGeneration != 10 || v.BucketETag != "bucket-etag" || v.IntervalSeconds != 30 {
		t.Errorf("view header %+v", v)
	}
	want := map[string]bool{"old": true, "same": false, "ahead": false, "none": true}
	rows := byNode(v)
	for node, behind := range want {
		if rows[node].Behind != behind {
			t.Errorf("%s (generation %d) behind %v, want %v", node, rows[node].Generation, rows[node].Behind, behind)
		}
	}
	// An empty bucket: nobody is behind.
	store.setCurrent(0, "")
	for _, in := range mustList(t, lister.f).Instances {
		if in.Behind {
			t.Errorf("%s behind an empty bucket", in.Node)
		}
	}
}

func TestCleanupRemovesInstancesGoneForADay(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock(t0)
	store := newMemStore(clock.Now)
	gone := newMember(t, store, "gone", 1, fleetKey)
	recent := newMember(t, store, "recent", 1, fleetKey)
	self := newMember(t, store, "self", 1, fleetKey)
	testutil.Must(t, gone.f.Publish(ctx), "publish gone")
	testutil.Must(t, self.f.Publish(ctx), "publish self") // then self stops publishing: still never removed
	store.putAt(Prefix+"garbage.json", []byte("not json"), t0)
	store.putAt(Prefix+"README", []byte("not a status"), t0)
	clock.Advance(2 * time.Hour)
	recent.clock.Advance(2 * time.Hour)
	testutil.Must(t, recent.f.Publish(ctx), "publish recent")

	// A day minus a minute after "gone" published: nothing goes.
	clock.Advance(22*time.Hour - time.Minute)
	self.clock.Advance(24*time.Hour - time.Minute)
	n, err := self.f.Cleanup(ctx)
	testutil.Must(t, err, "cleanup")
	if n != 0 {
		t.Errorf("removed %d before a day had passed (deleted %v)", n, store.deleted)
	}
	if rows := byNode(mustList(t, self.f)); len(rows) != 3 || !rows["gone"].Stale {
		t.Errorf("before a day: %+v, want gone (stale), recent, self", rows)
	}

	// Two minutes later: "gone" and the unreadable object go; the listing
	// already omits "gone" before any cleanup runs.
	clock.Advance(2 * time.Minute)
	self.clock.Advance(2 * time.Minute)
	rows := byNode(mustList(t, self.f))
	if _, ok := rows["gone"]; ok || len(rows) != 2 {
		t.Errorf("after a day the view still shows %v", rows)
	}
	n, err = self.f.Cleanup(ctx)
	testutil.Must(t, err, "cleanup")
	if n != 2 {
		t.Errorf("removed %d, want 2 (gone and garbage)", n)
	}
	want := []string{Prefix + "README", Key("recent"), Key("self")}
	if got := store.keys(); !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
}

// An object rewritten recently is kept even when the status inside claims
// to be old (a skewed clock), and the other way round.
func TestCleanupNeedsBothTimesOld(t *testing.T) {
	ctx := context.Background()
	store := newMemStore(time.Now)
	old := newMember(t, store, "skewed", 1, fleetKey)
	testutil.Must(t, old.f.Publish(ctx), "publish")
	body, _ := store.Get(ctx, Key("skewed"))
	store.putAt(Key("skewed"), body, t0.Add(48*time.Hour)) // modified "now"
	lister := newMember(t, store, "lister", 1, fleetKey)
	lister.clock.Advance(48 * time.Hour)
	if n, err := lister.f.Cleanup(ctx); err != nil || n != 0 {
		t.Errorf("cleanup removed %d (%v), want 0: the object was modified recently", n, err)
	}
	store.putAt(Key("skewed"), body, t0)
	old.clock.Advance(47 * time.Hour)
	testutil.Must(t, old.f.Publish(ctx), "publish")
	store.putAt(Key("skewed"), mustGet(t, store, Key("skewed")), t0)
	if n, err := lister.f.Cleanup(ctx); err != nil || n != 0 {
		t.Errorf("cleanup removed %d (%v), want 0: the status is recent", n, err)
	}
}

func mustGet(t *testing.T, s Store, key string) []byte {
	b, err := s.Get(context.Background(), key)
	testutil.Must(t, err, "get %s", key)
	return b
}

func TestUnverifiedStatusLosesItsAdminURL(t *testing.T) {
	ctx := context.Background()
	store := newMemStore(time.Now)
	intruder := newMember(t, store, "intruder", 1, DeriveKey([]byte("another secret")))
	testutil.Must(t, intruder.f.Publish(ctx), "publish")
	unsigned := newMember(t, store, "unsigned", 1, nil)
	testutil.Must(t, unsigned.f.Publish(ctx), "publish")
	lister := newMember(t, store, "lister", 1, fleetKey)
	rows := byNode(mustList(t, lister.f))
	for _, node := range []string{"intruder", "unsigned"} {
		if in := rows[node]; in.Verified || in.AdminURL != "" {
			t.Errorf("%s: verified %v, admin_url %q; want unverified without URL", node, in.Verified, in.AdminURL)
		}
		if _, err := lister.f.Lookup(ctx, node); !errors.Is(err, ErrUnverified) {
			t.Errorf("lookup %s: %v, want ErrUnverified", node, err)
		}
	}
	// A status copied under another node's key does not pass either.
	store.putAt(Key("lister2"), mustGet(t, store, Key("intruder")), time.Now())
	if _, ok := byNode(mustList(t, lister.f))["lister2"]; ok {
		t.Error("a status under another node's key is listed")
	}
}

func TestLookup(t *testing.T) {
	ctx := context.Background()
	store := newMemStore(time.Now)
	b := newMember(t, store, "b", 3, fleetKey)
	testutil.Must(t, b.f.Publish(ctx), "publish")
	a := newMember(t, store, "a", 3, fleetKey)
	in, err := a.f.Lookup(ctx, "b")
	testutil.Must(t, err, "lookup b")
	if in.AdminURL != "http://b.internal:9000" || in.Self || !in.Verified {
		t.Errorf("lookup b: %+v", in)
	}
	if in, err := a.f.Lookup(ctx, "a"); err != nil || !in.Self {
		t.Errorf("lookup self: %+v, %v", in, err)
	}
	for _, node := range []string{"nobody", "../x", "a/b", ""} {
		if _, err := a.f.Lookup(ctx, node); !errors.Is(err, ErrUnknownNode) {
			t.Errorf("lookup %q: %v, want ErrUnknownNode", node, err)
		}
	}
	a.clock.Advance(25 * time.Hour)
	if _, err := a.f.Lookup(ctx, "b"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("lookup of an instance gone for a day: %v, want ErrUnknownNode", err)
	}
}

func TestPublishIfChanged(t *testing.T) {
	ctx := context.Background()
	store := newMemStore(time.Now)
	a := newMember(t, store, "a", 1, fleetKey)
	changed := func() bool {
		t.Helper()
		ok, err := a.f.PublishIfChanged(ctx)
		testutil.Must(t, err, "publish if changed")
		return ok
	}
	if !changed() {
		t.Fatal("first call did not publish")
	}
	a.clock.Advance(time.Second)
	if changed() {
		t.Error("published with nothing changed but the time")
	}
	a.local.set(func(s *Status) { s.Generation, s.ETag = 2, "e2" })
	if !changed() {
		t.Error("a new generation was not published")
	}
	a.local.set(func(s *Status) { s.EventSources[0].Connected = false })
	if !changed() {
		t.Error("a disconnected source was not published")
	}
	var st Status
	v := mustList(t, a.f)
	st = v.Instances[0].Status
	if st.Generation != 2 || st.EventSources[0].Connected {
		t.Errorf("published %+v", st)
	}

	// A failed write is retried at the next check even with no change.
	store.mu.Lock()
	store.putErr = errors.New("bucket down")
	store.mu.Unlock()
	a.local.set(func(s *Status) { s.Generation = 3 })
	if _, err := a.f.PublishIfChanged(ctx); err == nil {
		t.Fatal("publish to a failing store: no error")
	}
	store.mu.Lock()
	store.putErr = nil
	store.mu.Unlock()
	if !changed() {
		t.Error("not retried after a failure")
	}
}

func TestLocalOnlyListsThisInstance(t *testing.T) {
	l := &local{st: Status{Role: "writer", Generation: 4, ETag: "local", Version: "v"}}
	f, err := New(Options{Node: "solo", Local: l.get, Now: testutil.NewClock(t0).Now})
	testutil.Must(t, err, "new")
	if f.Enabled() {
		t.Error("enabled without a store")
	}
	testutil.Must(t, f.Publish(context.Background()), "publish")
	v := mustList(t, f)
	if v.BucketGeneration != 4 || v.BucketETag != "local" || len(v.Instances) != 1 {
		t.Fatalf("view %+v", v)
	}
	in := v.Instances[0]
	if in.Node != "solo" || !in.Self || in.Stale || in.Behind || !in.UpdatedAt.Equal(t0) {
		t.Errorf("instance %+v", in)
	}
	if _, err := f.Lookup(context.Background(), "other"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("lookup of another node without a store: %v", err)
	}
}

func TestNewRefusesANodeThatCannotNameAnObject(t *testing.T) {
	for _, node := range []string{"", "a/b", "..", "tab\there"} {
		if _, err := New(Options{Store: newMemStore(time.Now), Node: node, Local: func() Status { return Status{} }}); err == nil {
			t.Errorf("node %q accepted", node)
		}
	}
}

// The JSON names of an instance row are the admin API's contract
// (docs/fleet.md); every field of Instance is checked.
func TestInstanceJSONFields(t *testing.T) {
	b, err := json.Marshal(Instance{Status: Status{LastPull: t0, PullSource: "poll"}})
	testutil.Must(t, err, "marshal")
	var m map[string]any
	testutil.Must(t, json.Unmarshal(b, &m), "unmarshal")
	want := []string{"node", "version", "role", "schema", "generation", "etag", "last_pull", "pull_source",
		"event_sources", "admin_url", "interval_seconds", "updated_at", "stale", "behind", "verified", "self"}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	n := reflect.TypeFor[Status]().NumField() + reflect.TypeFor[Instance]().NumField() - 1
	if n != len(want) {
		t.Errorf("%d struct fields, %d checked", n, len(want))
	}
	v, _ := json.Marshal(View{})
	if !strings.Contains(string(v), `"bucket_generation"`) || !strings.Contains(string(v), `"bucket_etag"`) ||
		!strings.Contains(string(v), `"interval_seconds"`) || !strings.Contains(string(v), `"instances"`) {
		t.Errorf("view fields: %s", v)
	}
}

// Run publishes at once, removes what is past retention, publishes a
// change without waiting for the interval, and returns when ctx ends.
func TestRunPublishesChangesAndCleansUp(t *testing.T) {
	store := newMemStore(time.Now)
	store.putAt(Key("long-gone"), []byte("{}"), t0.Add(-48*time.Hour))
	l := &local{st: Status{Generation: 1}}
	f, err := New(Options{Store: store, Node: "runner", Local: l.get, Key: fleetKey,
		Now: func() time.Time { return t0 }, Watch: 5 * time.Millisecond, Settle: 10 * time.Millisecond, Interval: time.Hour})
	testutil.Must(t, err, "new")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	generation := func() (uint64, error) {
		b, err := store.Get(ctx, Key("runner"))
		if err != nil {
			return 0, err
		}
		st, ok, err := decode(Key("runner"), b, fleetKey)
		if err != nil || !ok {
			return 0, fmt.Errorf("decode: %v (verified %v)", err, ok)
		}
		return st.Generation, nil
	}
	testutil.RetryUntil(t, time.Minute, func() error {
		if g, err := generation(); err != nil || g != 1 {
			return fmt.Errorf("generation %d (%v)", g, err)
		}
		if _, err := store.Get(ctx, Key("long-gone")); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("long-gone still there (%v)", err)
		}
		return nil
	})
	l.set(func(s *Status) { s.Generation = 2 })
	testutil.RetryUntil(t, time.Minute, func() error {
		if g, err := generation(); err != nil || g != 2 {
			return fmt.Errorf("generation %d (%v)", g, err)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
}
