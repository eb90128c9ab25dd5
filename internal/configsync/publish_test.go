package configsync_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
)

// putCall records the conditions of a Put.
type putCall struct{ ifMatch, ifNoneMatch string }

// recordPuts makes f record the conditions of every Put of the config key.
func recordPuts(f *configsynctest.Faulty) func() []putCall {
	var mu sync.Mutex
	var calls []putCall
	f.OnPut(func(ctx context.Context, key string, body []byte, ifMatch, ifNoneMatch string, next configsynctest.PutFunc) (string, error) {
		if key == testKey {
			mu.Lock()
			calls = append(calls, putCall{ifMatch, ifNoneMatch})
			mu.Unlock()
		}
		return next(ctx, key, body, ifMatch, ifNoneMatch)
	})
	return func() []putCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]putCall(nil), calls...)
	}
}

func TestPublishCreatesThenCompareAndSwaps(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	f := configsynctest.NewFaulty(mem)
	n := newNode(t, f)
	mustStart(t, n)
	if _, _, ok := mem.Object(configsync.WitnessKey(testKey)); mem.Calls("put") != 4 || mem.Keys() != 1 || !ok {
		t.Fatalf("startup: %d puts (want the 3 of the probe and its witness), %d objects left (want the witness only)", mem.Calls("put"), mem.Keys())
	}
	puts := recordPuts(f)

	st := mustPublish(t, n, createUser("alice"))
	if st.Generation() != 1 || !hasUser(st, "alice") || n.Current() != st {
		t.Fatalf("after first publish: generation %d, alice %v, current %v", st.Generation(), hasUser(st, "alice"), n.Current() == st)
	}
	body, etag, ok := mem.Object(testKey)
	if !ok {
		t.Fatal("the bucket holds no db after a publish")
	}
	if got := puts(); len(got) != 1 || got[0] != (putCall{"", "*"}) {
		t.Fatalf("first publish puts = %+v, want one with If-None-Match: *", got)
	}
	local, err := os.ReadFile(n.path)
	if err != nil || !bytes.Equal(local, body) {
		t.Fatalf("local file differs from the bucket's db (err %v)", err)
	}
	if n.Status().ETag != etag {
		t.Fatalf("held etag %q, bucket %q", n.Status().ETag, etag)
	}

	st = mustPublish(t, n, createUser("bob"))
	if got := puts(); len(got) != 2 || got[1] != (putCall{etag, ""}) {
		t.Fatalf("second publish puts = %+v, want If-Match %q", got, etag)
	}
	if st.Generation() != 2 || !hasUser(st, "alice") || !hasUser(st, "bob") {
		t.Fatalf("after second publish: generation %d", st.Generation())
	}
	lst, h := localState(t, n)
	if h.Generation != 2 || view(t, lst) != view(t, st) {
		t.Fatal("local file does not hold the published state")
	}
	if got := n.metric(t, "dgp_config_sync_publishes_total", "result", configsync.PublishOK); got != 2 {
		t.Fatalf("publishes_total{ok} = %v, want 2", got)
	}
	if len(n.logs.lines("config db published")) != 2 {
		t.Fatalf("want 2 publish log lines:\n%s", n.logs)
	}
}

func TestPublishRebasesAfterConflictInjectedAfterGet(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	fa := configsynctest.NewFaulty(mem)
	a := newNode(t, fa)
	b := newNode(t, mem)
	mustStart(t, a)
	mustStart(t, b)
	mustPublish(t, a, createUser("base"))

	// Between A's GET of the base and its PUT, B publishes: A's PUT meets
	// a real 412 from the bucket and A must rebase.
	var once sync.Once
	fa.OnGet(func(ctx context.Context, key, inm string, next configsynctest.GetFunc) ([]byte, string, error) {
		body, etag, err := next(ctx, key, inm)
		once.Do(func() { mustPublish(t, b, createUser("bob")) })
		return body, etag, err
	})
	puts := recordPuts(fa)
	st := mustPublish(t, a, createUser("alice"))

	if !hasUser(st, "alice") || !hasUser(st, "bob") || !hasUser(st, "base") {
		t.Fatalf("rebased state lost a change: %s", view(t, st))
	}
	if st.Generation() != 3 {
		t.Fatalf("generation = %d, want 3 (base 1, bob 2, alice 3)", st.Generation())
	}
	if got := puts(); len(got) != 2 {
		t.Fatalf("puts = %+v, want 2 (the lost one and the rebased one)", got)
	}
	stat := a.Status()
	if stat.ConflictsRebased != 1 || stat.LastPublish == nil || stat.LastPublish.Attempts != 2 {
		t.Fatalf("status: conflicts %d, last publish %+v", stat.ConflictsRebased, stat.LastPublish)
	}
	if got := a.metric(t, "dgp_config_sync_cas_conflicts_total"); got != 1 {
		t.Fatalf("cas_conflicts_total = %v, want 1", got)
	}
	if len(a.logs.lines("compare-and-swap lost: rebasing")) != 1 {
		t.Fatalf("want one rebase log line:\n%s", a.logs)
	}
	// The bucket holds the rebased DB and B sees it.
	if res := mustSyncNow(t, b); !res.Downloaded || res.Generation != 3 || !hasUser(b.Current(), "alice") {
		t.Fatalf("B after sync-now: %+v", res)
	}
}

func TestPublishUnavailableChangesNothing(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	f := configsynctest.NewFaulty(mem)
	n := newNode(t, f)
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	before := n.Current()
	beforeObj, _, _ := mem.Object(testKey)
	beforeFile, _ := os.ReadFile(n.path)

	cases := []struct {
		name string
		hook func()
	}{
		{"5xx on put", func() {
			f.OnPut(func(ctx context.Context, key string, body []byte, im, inm string, next configsynctest.PutFunc) (string, error) {
				return "", &configsync.BucketError{Op: "put", Status: 500, Code: "InternalError", Err: errors.New("boom")}
			})
		}},
		{"network failure on get", func() {
			f.OnGet(func(ctx context.Context, key, inm string, next configsynctest.GetFunc) ([]byte, string, error) {
				return nil, "", &configsync.BucketError{Op: "get", Status: 503, Code: "ServiceUnavailable", Err: errors.New("connection refused")}
			})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.OnGet(nil)
			f.OnPut(nil)
			tc.hook()
			_, err := n.Publish(context.Background(), createUser("bob"))
			wantErrIs(t, err, configsync.ErrUnavailable)
			if !strings.Contains(err.Error(), "boom") && !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("error does not carry the cause: %v", err)
			}
			if n.Current() != before {
				t.Error("the snapshot changed")
			}
			if obj, _, _ := mem.Object(testKey); !bytes.Equal(obj, beforeObj) {
				t.Error("the bucket changed")
			}
			if file, _ := os.ReadFile(n.path); !bytes.Equal(file, beforeFile) {
				t.Error("the local file changed")
			}
			if r, _ := n.Ready(context.Background()); r != configsync.ReadyStale {
				t.Errorf("ready = %q, want stale", r)
			}
		})
	}
	f.OnGet(nil)
	f.OnPut(nil)
	if got := n.metric(t, "dgp_config_sync_publishes_total", "result", configsync.PublishUnavailable); got != 2 {
		t.Fatalf("publishes_total{unavailable} = %v, want 2", got)
	}
	mustPublish(t, n, createUser("bob"))
	if r, _ := n.Ready(context.Background()); r != configsync.ReadyOK {
		t.Fatalf("ready after recovery = %q", r)
	}
}

func TestPublishOpNoLongerAppliesAfterRebase(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	fa := configsynctest.NewFaulty(mem)
	a := newNode(t, fa)
	b := newNode(t, mem)
	mustStart(t, a)
	mustStart(t, b)
	victim := mustPublish(t, a, createUser("victim"))
	mustSyncNow(t, b)
	victimID := mustUserID(t, victim, "victim")

	cases := []struct {
		name   string
		op     configdb.Op
		racing configdb.Op // B publishes it between A's GET and PUT
		want   error
	}{
		{"name taken", createUser("carol"), createUser("carol"), configdb.ErrConflict},
		{"user gone", &configdb.DeleteUser{ID: victimID}, &configdb.DeleteUser{ID: victimID}, configdb.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mustSyncNow(t, b)
			var once sync.Once
			fa.OnGet(func(ctx context.Context, key, inm string, next configsynctest.GetFunc) ([]byte, string, error) {
				body, etag, err := next(ctx, key, inm)
				once.Do(func() { mustPublish(t, b, tc.racing) })
				return body, etag, err
			})
			defer fa.OnGet(nil)
			_, err := a.Publish(context.Background(), tc.op)
			wantErrIs(t, err, tc.want)
			// The bucket holds B's DB: A's refused op wrote nothing.
			if obj, _, _ := mem.Object(testKey); !bytes.Equal(obj, mustReadFile(t, b.path)) {
				t.Error("the bucket does not hold the racing publish alone")
			}
			// A adopted the newer DB it fetched (as a pull would).
			if a.Current().Generation() != b.Current().Generation() || view(t, a.Current()) != view(t, b.Current()) {
				t.Errorf("A holds generation %d, the bucket %d", a.Current().Generation(), b.Current().Generation())
			}
		})
	}
	if got := a.metric(t, "dgp_config_sync_publishes_total", "result", configsync.PublishRejected); got != 2 {
		t.Fatalf("publishes_total{rejected} = %v, want 2", got)
	}
}

func mustUserID(t testing.TB, st *configdb.State, name string) string {
	t.Helper()
	u, ok := st.UserByName(name)
	if !ok {
		t.Fatalf("no user %q", name)
	}
	return u.ID
}

func TestPublishBoundedRetries(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	f := configsynctest.NewFaulty(mem)
	n := newNode(t, f, func(o *configsync.Options) { o.MaxPublishAttempts = 4 })
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	before := n.Current()
	f.OnPut(func(ctx context.Context, key string, body []byte, im, inm string, next configsynctest.PutFunc) (string, error) {
		return "", configsync.ErrPreconditionFailed
	})
	start := f.Puts()
	_, err := n.Publish(context.Background(), createUser("bob"))
	wantErrIs(t, err, configsync.ErrUnavailable)
	if got := f.Puts() - start; got != 4 {
		t.Fatalf("puts = %d, want exactly MaxPublishAttempts (4)", got)
	}
	if got := n.metric(t, "dgp_config_sync_cas_conflicts_total"); got != 4 {
		t.Fatalf("cas_conflicts_total = %v, want 4", got)
	}
	if n.Current() != before {
		t.Fatal("the snapshot changed")
	}
	if len(n.logs.lines("giving up after too many attempts")) != 1 {
		t.Fatalf("want a give-up log line:\n%s", n.logs)
	}
}

func TestPublishNoopPublishesNothing(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	op := createUser("alice")
	st := mustPublish(t, n, op)
	putsBefore := mem.Calls("put")
	// The same CreateUser again is a no-op (same id, name and keys).
	again := mustPublish(t, n, op)
	if again != st || mem.Calls("put") != putsBefore {
		t.Fatalf("a no-op published: puts %d -> %d", putsBefore, mem.Calls("put"))
	}
	if got := n.metric(t, "dgp_config_sync_publishes_total", "result", configsync.PublishNoop); got != 1 {
		t.Fatalf("publishes_total{noop} = %v", got)
	}
}

func TestReaderRefusesMutations(t *testing.T) {
	for _, url := range []string{"https://dgp-writer:9000", ""} {
		mem := configsynctest.NewMemBucket()
		n := newNode(t, mem, func(o *configsync.Options) { o.Role = configsync.RoleReader; o.WriterURL = url })
		mustStart(t, n)
		if mem.Calls("put") != 0 {
			t.Fatalf("a reader wrote %d objects at startup (no probe for readers)", mem.Calls("put"))
		}
		_, err := n.Publish(context.Background(), createUser("alice"))
		wantErrIs(t, err, configsync.ErrReadOnly)
		if url != "" && !strings.Contains(err.Error(), url) {
			t.Fatalf("error %q does not name the writer", err)
		}
		if mem.Calls("put") != 0 || n.Current().NumUsers() != 0 {
			t.Fatal("a reader changed something")
		}
	}
}

func TestSchemaGuard(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	held := mustPublish(t, n, createUser("alice"))
	heldFile, _ := os.ReadFile(n.path)

	// A newer binary migrated the DB: schema CurrentSchema+1 (authentic).
	newer := sealRaw(t, []byte(`{"users":[],"groups":[],"auth_providers":[],"session_revocations":{},"new_field":1}`),
		configdb.CurrentSchema+1, 7, t0.Add(1), testSecret)
	mem.Set(testKey, newer)

	_, err := n.Publish(context.Background(), createUser("bob"))
	wantErrIs(t, err, configsync.ErrMidUpgrade)
	if obj, _, _ := mem.Object(testKey); !bytes.Equal(obj, newer) {
		t.Fatal("an older writer overwrote a newer schema")
	}
	_, err = n.SyncNow(context.Background())
	wantErrIs(t, err, configsync.ErrRejected)
	if n.Current() != held {
		t.Fatal("a newer schema was applied")
	}
	if file, _ := os.ReadFile(n.path); !bytes.Equal(file, heldFile) {
		t.Fatal("the local file changed")
	}
	lines := n.logs.lines("config db refused")
	if len(lines) != 1 || lines[0]["result"] != configsync.ResultSchemaTooNew || !strings.Contains(lines[0]["error"].(string), "upgrade this instance") {
		t.Fatalf("refusal log = %v", lines)
	}
	if got := n.metric(t, "dgp_config_sync_publishes_total", "result", configsync.PublishMidUpgrade); got != 1 {
		t.Fatalf("publishes_total{mid_upgrade} = %v", got)
	}
}

func mustReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPublishOntoResetBucket(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	for _, name := range []string{"a", "b", "c"} {
		mustPublish(t, n, createUser(name))
	}
	// The bucket was reset: a new history at generation 1, sealed later.
	fresh := mustApply(t, configdb.Empty(), createUser("fresh"))
	mem.Set(testKey, sealState(t, fresh, 1, t0.Add(time.Hour), testSecret))
	n.clock.Advance(2 * time.Hour)

	st := mustPublish(t, n, createUser("next"))
	if st.Generation() != 2 || !hasUser(st, "fresh") || hasUser(st, "a") {
		t.Fatalf("publish onto the reset bucket: generation %d\n%s", st.Generation(), view(t, st))
	}
	if n.Current() != st {
		t.Fatal("the published db is not the snapshot")
	}
	if local, h := localState(t, n); h.Generation != 2 || view(t, local) != view(t, st) {
		t.Fatal("the local file does not hold the published db")
	}
}

// A PUT whose answer is lost (a connection reset while the body was sent,
// a 5xx after the write) is settled by reading the object back.
func TestPublishSettlesAmbiguousPut(t *testing.T) {
	reset := &configsync.BucketError{Op: "put", Status: 503, Code: "ServiceUnavailable", Err: errors.New("connection reset by peer")}

	t.Run("the write landed", func(t *testing.T) {
		mem := configsynctest.NewMemBucket()
		fa := configsynctest.NewFaulty(mem)
		a := newNode(t, fa)
		mustStart(t, a)
		fa.OnPut(func(ctx context.Context, key string, body []byte, im, inm string, next configsynctest.PutFunc) (string, error) {
			if _, err := next(ctx, key, body, im, inm); err != nil {
				return "", err
			}
			return "", reset
		})
		st := mustPublish(t, a, createUser("alice"))
		if !hasUser(st, "alice") || st.Generation() != 1 {
			t.Fatalf("published state: %s", view(t, st))
		}
		obj, _, _ := mem.Object(testKey)
		if _, etag, _ := mem.Get(context.Background(), testKey, ""); a.Status().ETag != strings.Trim(etag, `"`) || len(obj) == 0 {
			t.Fatalf("status etag %q, bucket etag %q", a.Status().ETag, etag)
		}
	})

	t.Run("another instance won: rebase", func(t *testing.T) {
		mem := configsynctest.NewMemBucket()
		fa := configsynctest.NewFaulty(mem)
		a := newNode(t, fa)
		b := newNode(t, mem)
		mustStart(t, a)
		mustStart(t, b)
		mustPublish(t, a, createUser("base"))
		// B publishes first; A's PUT then fails without a readable 412,
		// as when a server refuses early and resets the connection.
		var once sync.Once
		fa.OnPut(func(ctx context.Context, key string, body []byte, im, inm string, next configsynctest.PutFunc) (string, error) {
			first := false
			once.Do(func() { first = true; mustPublish(t, b, createUser("bob")) })
			if first {
				if _, err := next(ctx, key, body, im, inm); !errors.Is(err, configsync.ErrPreconditionFailed) {
					t.Errorf("the racing put should have met a 412, got %v", err)
				}
				return "", reset
			}
			return next(ctx, key, body, im, inm)
		})
		st := mustPublish(t, a, createUser("alice"))
		if !hasUser(st, "alice") || !hasUser(st, "bob") || st.Generation() != 3 {
			t.Fatalf("rebased state: %s", view(t, st))
		}
		if a.Status().ConflictsRebased != 1 {
			t.Fatalf("conflicts rebased = %d, want 1", a.Status().ConflictsRebased)
		}
	})
}
