package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// world is two directory backends (src on "a", dst on "b") and one shared
// directory for leases and job state: the truth of a fleet.
type world struct {
	t      *testing.T
	router *storage.Router
	state  string
	logs   *bytes.Buffer
	logMu  sync.Mutex
}

func newWorld(t *testing.T) *world {
	t.Helper()
	a, err := fsbackend.New("a", t.TempDir(), time.Now)
	testutil.Must(t, err, "backend a")
	b, err := fsbackend.New("b", t.TempDir(), time.Now)
	testutil.Must(t, err, "backend b")
	r, err := storage.NewRouter([]storage.Backend{a, b}, "a", map[string]storage.Route{"dst": {Backend: "b"}})
	testutil.Must(t, err, "router")
	ctx := context.Background()
	testutil.Must(t, a.CreateBucket(ctx, "src", storage.CreateBucketOptions{}), "create src")
	testutil.Must(t, b.CreateBucket(ctx, "dst", storage.CreateBucketOptions{}), "create dst")
	return &world{t: t, router: r, state: t.TempDir(), logs: &bytes.Buffer{}}
}

func (w *world) Write(p []byte) (int, error) {
	w.logMu.Lock()
	defer w.logMu.Unlock()
	return w.logs.Write(p)
}

func (w *world) logText() string {
	w.logMu.Lock()
	defer w.logMu.Unlock()
	return w.logs.String()
}

func rule(name string) config.ReplicationRule {
	r := config.NewReplicationRule(name, config.JobLocation{Bucket: "src", Prefix: "in/"}, config.JobLocation{Bucket: "dst", Prefix: "out/"})
	r.ReplicateDeletes = true
	r.BatchSize = 7
	return r
}

// engine builds an instance's engine over the world's shared state.
func (w *world) engine(node string, rules ...config.ReplicationRule) *Engine {
	w.t.Helper()
	ls, err := lease.NewDirStore(w.state)
	testutil.Must(w.t, err, "lease store")
	log := zerolog.New(w).Level(zerolog.DebugLevel)
	m, err := lease.New(lease.Options{Store: ls, Node: node, TTL: 3 * time.Second, Heartbeat: time.Second, Logger: log})
	testutil.Must(w.t, err, "lease manager")
	st, err := NewDirStore(w.state)
	testutil.Must(w.t, err, "jobs store")
	rc := config.ReplicationConfig{Enabled: true, TickInterval: 50 * time.Millisecond, MaxFailuresRetained: 10, Rules: rules}
	e, err := New(Options{Node: node, Leases: m, Store: st, Buckets: w.router, Replication: rc, Logger: log})
	testutil.Must(w.t, err, "engine")
	return e
}

func (w *world) put(bucket, key, body string, meta map[string]string) {
	w.t.Helper()
	b, name := w.router.Resolve(bucket)
	_, err := b.PutObject(context.Background(), name, key, strings.NewReader(body), int64(len(body)),
		storage.PutOptions{ContentType: "text/x-test", UserMetadata: meta})
	testutil.Must(w.t, err, "put %s/%s", bucket, key)
}

func (w *world) del(bucket, key string) {
	b, name := w.router.Resolve(bucket)
	_, err := b.DeleteObject(context.Background(), name, key, storage.DeleteOptions{})
	testutil.Must(w.t, err, "delete %s/%s", bucket, key)
}

// contents returns key -> body of a bucket under prefix (prefix stripped).
func (w *world) contents(bucket, prefix string) map[string]string {
	w.t.Helper()
	b, name := w.router.Resolve(bucket)
	out := map[string]string{}
	res, err := b.ListObjects(context.Background(), name, storage.ListOptions{Prefix: prefix, MaxKeys: 1000})
	testutil.Must(w.t, err, "list")
	for _, o := range res.Objects {
		obj, err := b.GetObject(context.Background(), name, o.Key, storage.GetOptions{})
		if errors.Is(err, s3err.ErrNoSuchKey) {
			continue // deleted by a run since the listing
		}
		testutil.Must(w.t, err, "get")
		data, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		out[strings.TrimPrefix(o.Key, prefix)] = string(data)
	}
	return out
}

func same(a, b map[string]string) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d keys, want %d", len(a), len(b))
	}
	for k, v := range b {
		if a[k] != v {
			return fmt.Errorf("key %q: %q, want %q", k, a[k], v)
		}
	}
	return nil
}

func start(t *testing.T, e *Engine) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestReplicationReconcileAndQueue(t *testing.T) {
	w := newWorld(t)
	for i := range 20 {
		w.put("src", fmt.Sprintf("in/k%02d", i), fmt.Sprintf("body %d", i), map[string]string{"n": fmt.Sprint(i)})
	}
	w.put("src", "other/x", "not under the prefix", nil)
	w.put("src", "in/.deltaglider/x", "fine: only a top-level .deltaglider/ is internal", nil)
	w.put("dst", "out/stale", "deleted by replicate_deletes", nil)
	e := w.engine("n1", rule("r1"))
	start(t, e)
	testutil.RetryUntil(t, 20*time.Second, func() error { return same(w.contents("dst", "out/"), w.contents("src", "in/")) })

	// Content type and user metadata travel.
	db, dname := w.router.Resolve("dst")
	info, err := db.HeadObject(context.Background(), dname, "out/k03", storage.GetOptions{})
	testutil.Must(t, err, "head")
	if info.ContentType != "text/x-test" || info.UserMetadata["n"] != "3" {
		t.Fatalf("metadata not kept: %q %v", info.ContentType, info.UserMetadata)
	}

	// Writes after the reconcile reach the destination through the queue.
	w.put("src", "in/k03", "rewritten", nil)
	w.put("src", "in/new", "new", nil)
	w.del("src", "in/k05")
	ctx := context.Background()
	for _, k := range []string{"in/k03", "in/new", "in/k05", "in/k03"} {
		testutil.Must(t, e.Enqueue(ctx, "src", k, OpPut), "enqueue")
	}
	if e.Covers("src", "other/x") || !e.Covers("src", "in/k03") {
		t.Fatal("Covers does not follow the rule's prefix")
	}
	testutil.RetryUntil(t, 20*time.Second, func() error { return same(w.contents("dst", "out/"), w.contents("src", "in/")) })
	testutil.RetryUntil(t, 20*time.Second, func() error {
		keys, err := e.store.List(ctx, QueueDir("r1"), "", 100)
		if err != nil || len(keys) > 0 {
			return fmt.Errorf("queue not drained: %v %v", keys, err)
		}
		return nil
	})
	// 21 copies and 1 delete by the first reconcile, 2 copies and 1
	// delete from the queue (the finished run's record lands after its
	// markers are deleted).
	testutil.RetryUntil(t, 20*time.Second, func() error {
		st, err := e.Get(ctx, "replication:r1")
		if err != nil || st.Leader != "n1" || !st.HeldHere || st.Totals.Copied != 23 || st.Totals.Deleted != 2 || st.Status != "idle" {
			return fmt.Errorf("status: %+v %v", st, err)
		}
		return nil
	})
	runs, err := e.Runs(ctx, "replication:r1")
	testutil.Must(t, err, "runs")
	if len(runs) < 2 || runs[len(runs)-1].Trigger != "full" {
		t.Fatalf("runs: %+v", runs)
	}
}

func TestRunNowHeldElsewhereAndPause(t *testing.T) {
	w := newWorld(t)
	w.put("src", "in/a", "a", nil)
	e1 := w.engine("n1", rule("r1"))
	e2 := w.engine("n2", rule("r1"))
	start(t, e1)
	ctx := context.Background()
	testutil.RetryUntil(t, 20*time.Second, func() error {
		st, err := e2.Get(ctx, "replication:r1")
		if err != nil || st.Leader != "n1" {
			return fmt.Errorf("leader %q %v", st.Leader, err)
		}
		return nil
	})
	_, err := e2.RunNow(ctx, "replication:r1")
	var held *lease.HeldError
	if !errors.As(err, &held) || held.Record.Holder != "n1" {
		t.Fatalf("run-now on n2: %v, want held by n1", err)
	}
	if _, err := e2.RunNow(ctx, "replication:nope"); !errors.Is(err, ErrUnknownJob) {
		t.Fatalf("unknown job: %v", err)
	}
	// Pause from the other instance: the holder lets go, nobody runs it.
	st, err := e2.Pause(ctx, "replication:r1")
	testutil.Must(t, err, "pause")
	if !st.Paused || st.PausedBy != "n2" {
		t.Fatalf("pause: %+v", st)
	}
	testutil.RetryUntil(t, 20*time.Second, func() error {
		st, err := e2.Get(ctx, "replication:r1")
		if err != nil || st.Leader != "" || st.Status != "paused" {
			return fmt.Errorf("still led: %+v %v", st, err)
		}
		return nil
	})
	w.put("src", "in/b", "b", nil)
	testutil.Must(t, e2.Enqueue(ctx, "src", "in/b", OpPut), "enqueue")
	if _, err := e1.RunNow(ctx, "replication:r1"); !errors.Is(err, ErrPaused) {
		t.Fatalf("run-now while paused: %v", err)
	}
	_, err = e1.Resume(ctx, "replication:r1")
	testutil.Must(t, err, "resume")
	testutil.RetryUntil(t, 20*time.Second, func() error { return same(w.contents("dst", "out/"), w.contents("src", "in/")) })
}

// refusingFence refuses every Check after the first n.
type refusingFence struct {
	mu sync.Mutex
	n  int
}

func (f *refusingFence) Token() uint64 { return 9 }
func (f *refusingFence) Check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n <= 0 {
		return fmt.Errorf("%w: %w", lease.ErrFenced, lease.ErrExpired)
	}
	f.n--
	return nil
}

// A holder whose fence refuses stops before its next write and the run is
// recorded as failed.
func TestFencedRunStopsAndIsRecordedFailed(t *testing.T) {
	w := newWorld(t)
	for i := range 30 {
		w.put("src", fmt.Sprintf("in/k%02d", i), "x", nil)
	}
	e := w.engine("n1", rule("r1"))
	j := e.byID["replication:r1"]
	j.repl.conc = 1
	f := &refusingFence{n: 5} // Begin's state write, then 4 copies
	p := &Progress{e: e, j: j, fence: f, trigger: "full", log: zerolog.New(w)}
	p.run = Run{ID: "run-1", Node: "n1", Token: 9, Trigger: "full"}
	ctx := context.Background()
	err := j.work.Run(ctx, f, true, p)
	if !errors.Is(err, lease.ErrFenced) {
		t.Fatalf("run: %v, want fenced", err)
	}
	p.finish(ctx, err, true)
	if got := len(w.contents("dst", "out/")); got != 4 {
		t.Fatalf("%d objects written, want the 4 the fence allowed", got)
	}
	runs, err := e.Runs(ctx, "replication:r1")
	testutil.Must(t, err, "runs")
	if len(runs) != 1 || runs[0].Status != StatusFailed || !strings.Contains(runs[0].Error, "fence") {
		t.Fatalf("runs: %+v", runs)
	}
	st, _, err := e.state.read(ctx, "replication", "r1")
	testutil.Must(t, err, "state")
	if st.Current != nil || !st.LastFull.IsZero() {
		t.Fatalf("a failed full pass left current %v / last_full %v", st.Current, st.LastFull)
	}
}

func TestConflictPolicies(t *testing.T) {
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	nw := old.Add(time.Hour)
	src := storage.ObjectInfo{Size: 3, ETag: `"aaa"`, LastModified: nw}
	cases := []struct {
		policy config.ConflictPolicy
		dst    storage.ObjectInfo
		want   bool
	}{
		{config.ConflictNewerWins, storage.ObjectInfo{Size: 3, ETag: `"bbb"`, LastModified: old}, true},
		{config.ConflictNewerWins, storage.ObjectInfo{Size: 9, ETag: `"bbb"`, LastModified: nw.Add(time.Second)}, false},
		// The same second: different contents are copied, the same are not.
		{config.ConflictNewerWins, storage.ObjectInfo{Size: 9, ETag: `"bbb"`, LastModified: nw.Add(300 * time.Millisecond)}, true},
		{config.ConflictNewerWins, storage.ObjectInfo{Size: 3, ETag: `"aaa"`, LastModified: nw.Add(300 * time.Millisecond)}, false},
		{config.ConflictNewerWins, storage.ObjectInfo{Size: 3, ETag: `"aaa"`, LastModified: nw.Add(-300 * time.Millisecond)}, true}, // an earlier second
		{config.ConflictContentDiff, storage.ObjectInfo{Size: 3, ETag: `"aaa"`, LastModified: old}, false},
		{config.ConflictContentDiff, storage.ObjectInfo{Size: 3, ETag: `"bbb"`, LastModified: nw.Add(time.Hour)}, true},
		{config.ConflictContentDiff, storage.ObjectInfo{Size: 3, ETag: `"ccc-2"`, LastModified: old}, false},
		{config.ConflictContentDiff, storage.ObjectInfo{Size: 4, ETag: `"ccc-2"`, LastModified: old}, true},
		{config.ConflictSkipIfDestExists, storage.ObjectInfo{Size: 4, LastModified: old}, false},
	}
	for i, c := range cases {
		r := &replication{rule: config.ReplicationRule{Conflict: c.policy}}
		if got := r.needsCopy(src, c.dst); got != c.want {
			t.Errorf("case %d (%s): %v, want %v", i, c.policy, got, c.want)
		}
	}
}

func TestPreviewWritesNothing(t *testing.T) {
	w := newWorld(t)
	w.put("src", "in/a", "a", nil)
	w.put("src", "in/skip.tmp", "b", nil)
	w.put("dst", "out/gone", "c", nil)
	r := rule("r1")
	r.ExcludeGlobs = []string{"**/*.tmp"}
	e := w.engine("n1", r)
	pv, err := e.Preview(context.Background(), "replication:r1")
	testutil.Must(t, err, "preview")
	p := pv.(*replicationPreview)
	var ops []string
	for _, a := range p.Sample {
		ops = append(ops, a.Op+" "+a.Destination)
	}
	sort.Strings(ops)
	if p.WouldCopy != 1 || p.WouldDel != 1 || strings.Join(ops, ",") != "copy out/a,delete out/gone" {
		t.Fatalf("preview: %+v", p)
	}
	if got := w.contents("dst", "out/"); len(got) != 1 {
		t.Fatalf("preview wrote: %v", got)
	}
}

// An instance whose definition of a rule differs from the holder's says so
// in its log and in its status.
func TestDefinitionDiffers(t *testing.T) {
	w := newWorld(t)
	e1 := w.engine("n1", rule("r1"))
	other := rule("r1")
	other.Conflict = config.ConflictSkipIfDestExists
	e2 := w.engine("n2", other)
	start(t, e1)
	ctx := context.Background()
	testutil.RetryUntil(t, 20*time.Second, func() error {
		st, err := e2.Get(ctx, "replication:r1")
		if err != nil || st.Leader != "n1" {
			return fmt.Errorf("leader %q %v", st.Leader, err)
		}
		return nil
	})
	st, err := e2.Get(ctx, "replication:r1")
	testutil.Must(t, err, "status")
	if !st.DefinitionDiffers || st.LeaderRuleHash != rule("r1").Hash() || st.RuleHash != other.Hash() {
		t.Fatalf("status does not say the definitions differ: %+v", st)
	}
	if st1, _ := e1.Get(ctx, "replication:r1"); st1.DefinitionDiffers {
		t.Fatalf("the holder's own status says its definition differs: %+v", st1)
	}
	start(t, e2) // its loop finds the lease held by a different definition
	testutil.RetryUntil(t, 20*time.Second, func() error {
		if !strings.Contains(w.logText(), "runs a different definition") {
			return fmt.Errorf("no warning in the log yet")
		}
		return nil
	})
}

// On one backend a copy is server-side, metadata included.
func TestReplicationSameBackend(t *testing.T) {
	w := newWorld(t)
	a, _ := w.router.Resolve("src")
	testutil.Must(t, a.CreateBucket(context.Background(), "same", storage.CreateBucketOptions{}), "create")
	w.put("src", "in/x", "xx", map[string]string{"k": "v"})
	r := config.NewReplicationRule("same", config.JobLocation{Bucket: "src", Prefix: "in/"}, config.JobLocation{Bucket: "same"})
	e := w.engine("n1", r)
	start(t, e)
	testutil.RetryUntil(t, 20*time.Second, func() error { return same(w.contents("same", ""), map[string]string{"x": "xx"}) })
	info, err := a.HeadObject(context.Background(), "same", "x", storage.GetOptions{})
	testutil.Must(t, err, "head")
	if info.ContentType != "text/x-test" || info.UserMetadata["k"] != "v" {
		t.Fatalf("metadata not kept: %+v", info)
	}
	testutil.RetryUntil(t, 20*time.Second, func() error {
		st, err := e.Get(context.Background(), "replication:same")
		if err != nil || st.Totals.Copied != 1 || st.Totals.Bytes != 2 {
			return fmt.Errorf("counters: %+v %v", st.Totals, err)
		}
		return nil
	})
}
