package configsync_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
	"github.com/dgp-proxy/dgp/internal/notify"
)

func TestPullAppliesAndPersists(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	a := newNode(t, mem)
	b := newNode(t, mem)
	mustStart(t, a)
	mustStart(t, b)
	if got := b.Status().LastPull; got == nil || got.Result != configsync.ResultEmpty || got.Source != configsync.SourceStartup {
		t.Fatalf("startup pull on an empty bucket: %+v", got)
	}
	if r, err := b.Ready(context.Background()); err != nil || r != configsync.ReadyOK {
		t.Fatalf("ready = %q, %v", r, err)
	}
	mustPublish(t, a, createUser("alice"))
	published := a.Current()

	res := mustSyncNow(t, b)
	body, etag, _ := mem.Object(testKey)
	if !res.Downloaded || res.Status != configsync.ResultUpdated || res.ETag != etag || res.Generation != 1 {
		t.Fatalf("sync-now = %+v (bucket etag %s)", res, etag)
	}
	if view(t, b.Current()) != view(t, published) {
		t.Fatal("B does not hold what A published")
	}
	if !bytes.Equal(mustReadFile(t, b.path), body) {
		t.Fatal("B's local file is not the bucket's db")
	}
	lines := b.logs.lines("config db applied")
	if len(lines) != 1 {
		t.Fatalf("applied log lines = %d:\n%s", len(lines), b.logs)
	}
	for _, f := range []string{"etag", "generation", "source", "bytes", "duration_ms"} {
		if _, ok := lines[0][f]; !ok {
			t.Errorf("applied log line lacks %q: %v", f, lines[0])
		}
	}
	if lines[0]["component"] != "config-sync" || lines[0]["source"] != configsync.SourceSyncNow {
		t.Errorf("applied log line: %v", lines[0])
	}

	// Again: 304, nothing downloaded.
	res = mustSyncNow(t, b)
	if res.Downloaded || res.Status != configsync.ResultCurrent || res.ETag != etag {
		t.Fatalf("second sync-now = %+v", res)
	}
	if got := b.metric(t, "dgp_config_sync_pulls_total", "source", "sync-now", "result", "current"); got != 1 {
		t.Fatalf("pulls_total{sync-now,current} = %v", got)
	}
	if got := b.metric(t, "dgp_config_sync_generation"); got != 1 {
		t.Fatalf("generation gauge = %v", got)
	}
	if got := b.metric(t, "dgp_config_sync_last_success_timestamp_seconds"); got != float64(t0.Unix()) {
		t.Fatalf("last success = %v, want %v", got, t0.Unix())
	}
	b.clock.Advance(90 * time.Second)
	if got := b.metric(t, "dgp_config_sync_seconds_since_last_success"); got != 90 {
		t.Fatalf("seconds since last success = %v, want 90", got)
	}
}

func TestPullRejectsBadDBs(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	w := newNode(t, mem)
	n := newNode(t, mem)
	mustStart(t, w)
	mustStart(t, n)
	mustPublish(t, w, createUser("alice"))
	mustSyncNow(t, n)
	held := n.Current()
	heldFile := mustReadFile(t, n.path)

	// A genuine newer DB to damage.
	mustPublish(t, w, createUser("bob"))
	good, _, _ := mem.Object(testKey)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	cases := []struct {
		name   string
		body   []byte
		result string
	}{
		{"wrong secret", sealState(t, w.Current(), 9, t0, []byte("another secret")), configsync.ResultWrongSecret},
		{"flipped generation byte", flip(18), configsync.ResultWrongSecret},
		{"flipped ciphertext byte", flip(len(good) - 40), configsync.ResultWrongSecret},
		{"flipped tag byte", flip(len(good) - 1), configsync.ResultWrongSecret},
		{"truncated body", good[:len(good)-7], configsync.ResultTruncated},
		{"truncated header", good[:30], configsync.ResultTruncated},
		{"newer schema", sealRaw(t, []byte(`{}`), configdb.CurrentSchema+1, 9, t0, testSecret), configsync.ResultSchemaTooNew},
		{"invalid state", sealRaw(t, []byte(`{"users":[{"id":"u1","name":"","access_key_id":"x"}],"groups":[],"auth_providers":[],"session_revocations":{}}`),
			configdb.CurrentSchema, 9, t0, testSecret), configsync.ResultInvalid},
		{"not json", sealRaw(t, []byte(`not json`), configdb.CurrentSchema, 9, t0, testSecret), configsync.ResultInvalid},
		{"garbage", []byte("<html>nope</html>"), configsync.ResultMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem.Set(testKey, tc.body)
			res, err := n.SyncNow(context.Background())
			wantErrIs(t, err, configsync.ErrRejected)
			if res.Downloaded || res.Status != tc.result {
				t.Errorf("result = %+v, want status %s", res, tc.result)
			}
			if n.Current() != held {
				t.Error("a refused db was applied")
			}
			if !bytes.Equal(mustReadFile(t, n.path), heldFile) {
				t.Error("the local file changed")
			}
			if got := n.metric(t, "dgp_config_sync_pulls_total", "source", "sync-now", "result", tc.result); got < 1 {
				t.Errorf("pulls_total{sync-now,%s} = %v", tc.result, got)
			}
			lines := n.logs.lines("config db refused")
			if len(lines) == 0 || lines[len(lines)-1]["result"] != tc.result {
				t.Errorf("no refusal log line with result %s:\n%s", tc.result, n.logs)
			}
			if r, _ := n.Ready(context.Background()); r != configsync.ReadyStale {
				t.Errorf("ready = %q, want stale", r)
			}
			if st := n.Status().LastPull; st == nil || st.Result != tc.result || st.Error == "" {
				t.Errorf("status last pull = %+v", st)
			}
		})
	}
	// The wrong-secret refusal says what to check; the secret never shows.
	if lines := n.logs.lines("config db refused"); !strings.Contains(lines[0]["error"].(string), "wrong bootstrap secret") {
		t.Errorf("wrong-secret log: %v", lines[0])
	}
	if strings.Contains(n.logs.String(), string(testSecret)) || strings.Contains(w.logs.String(), string(testSecret)) {
		t.Fatal("the secret appears in the logs")
	}
	// A good DB is applied again.
	mem.Set(testKey, good)
	if res := mustSyncNow(t, n); !res.Downloaded || !hasUser(n.Current(), "bob") {
		t.Fatalf("good db after refusals: %+v", res)
	}
	if r, _ := n.Ready(context.Background()); r != configsync.ReadyOK {
		t.Fatalf("ready = %q", r)
	}
}

func TestZeroUsersIsValidState(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	w := newNode(t, mem)
	n := newNode(t, mem)
	mustStart(t, w)
	mustStart(t, n)
	st := mustPublish(t, w, createUser("alice"))
	mustSyncNow(t, n)
	mustPublish(t, w, &configdb.DeleteUser{ID: mustUserID(t, st, "alice")})
	res := mustSyncNow(t, n)
	if !res.Downloaded || n.Current().NumUsers() != 0 || res.Generation != 2 {
		t.Fatalf("a db without users: %+v, %d users", res, n.Current().NumUsers())
	}
	// Nobody is let in: the authorizer of an empty state knows no key.
	if _, ok := n.Current().Lookup(mustUserKey(t, st, "alice")); ok {
		t.Fatal("the deleted user's key still resolves")
	}
}

func mustUserKey(t testing.TB, st *configdb.State, name string) string {
	t.Helper()
	u, ok := st.UserByName(name)
	if !ok {
		t.Fatalf("no user %q", name)
	}
	return u.AccessKeyID
}

func TestNeverDowngrade(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	gen1, _, _ := mem.Object(testKey)
	n.clock.Advance(time.Minute)
	mustPublish(t, n, createUser("bob"))
	n.clock.Advance(time.Minute)
	held := mustPublish(t, n, createUser("carol"))

	// Replay of an old genuine DB (or a stale read): refused.
	mem.Set(testKey, gen1)
	res, err := n.SyncNow(context.Background())
	wantErrIs(t, err, configsync.ErrRejected)
	if res.Status != configsync.ResultOlder || n.Current() != held {
		t.Fatalf("older db: %+v, generation %d", res, n.Current().Generation())
	}
	if lines := n.logs.lines("never downgrading"); len(lines) != 1 || lines[0]["generation"] != float64(1) ||
		lines[0]["current_generation"] != float64(3) {
		t.Fatalf("downgrade log: %v", lines)
	}
	// The writer builds on what it holds and overwrites the stale object.
	st := mustPublish(t, n, createUser("dave"))
	if st.Generation() != 4 || !hasUser(st, "carol") || !hasUser(st, "dave") {
		t.Fatalf("publish over an older db: generation %d", st.Generation())
	}
	body, _, _ := mem.Object(testKey)
	if h, err := configdb.ReadHeader(body); err != nil || h.Generation != 4 {
		t.Fatalf("bucket holds generation %d (%v), want 4", h.Generation, err)
	}

	// A reset: a new history (lower generation) sealed after the held DB.
	fresh := mustApply(t, configdb.Empty(), createUser("fresh"))
	mem.Set(testKey, sealState(t, fresh, 1, n.clock.Now().Add(time.Hour), testSecret))
	res = mustSyncNow(t, n)
	if !res.Downloaded || res.Generation != 1 || !hasUser(n.Current(), "fresh") || hasUser(n.Current(), "dave") {
		t.Fatalf("reset db not applied: %+v", res)
	}
	if len(n.logs.lines("the sync bucket was reset")) != 1 {
		t.Fatalf("no reset log line:\n%s", n.logs)
	}
}

func mustApply(t testing.TB, st *configdb.State, op configdb.Op) *configdb.State {
	t.Helper()
	next, err := op.Apply(st, t0)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

func TestRevocationsMergeForward(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	mustPublish(t, n, &configdb.RevokeSessions{Identity: "u-1", Since: t0.Add(time.Hour)})
	mustPublish(t, n, &configdb.RevokeSessions{Identity: "admin", Since: t0.Add(time.Hour)})

	// The bucket is reset to a new history whose revocations are older for
	// u-1, newer for admin, and new for u-2.
	base := mustApply(t, configdb.Empty(), createUser("zed"))
	base = mustApply(t, base, &configdb.RevokeSessions{Identity: "u-1", Since: t0})
	base = mustApply(t, base, &configdb.RevokeSessions{Identity: "admin", Since: t0.Add(3 * time.Hour)})
	base = mustApply(t, base, &configdb.RevokeSessions{Identity: "u-2", Since: t0.Add(2 * time.Hour)})
	mem.Set(testKey, sealState(t, base, 1, t0.Add(24*time.Hour), testSecret))

	res := mustSyncNow(t, n)
	if !res.Downloaded || res.Generation != 1 {
		t.Fatalf("reset db: %+v", res)
	}
	want := map[string]time.Time{"u-1": t0.Add(time.Hour), "admin": t0.Add(3 * time.Hour), "u-2": t0.Add(2 * time.Hour)}
	check := func(what string, got map[string]time.Time) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: revocations %v, want %v", what, got, want)
		}
		for k, v := range want {
			if !got[k].Equal(v) {
				t.Fatalf("%s: revocation of %s = %v, want %v", what, k, got[k], v)
			}
		}
	}
	check("snapshot", n.Current().Revocations())
	if n.Current().Generation() != 1 || !hasUser(n.Current(), "zed") || hasUser(n.Current(), "alice") {
		t.Fatal("the snapshot is not the pulled db")
	}
	local, h := localState(t, n)
	check("local file", local.Revocations())
	if h.Generation != 1 {
		t.Fatalf("local file generation %d", h.Generation)
	}
	// The next publish carries the merged revocations to the bucket.
	mustPublish(t, n, createUser("yan"))
	body, _, _ := mem.Object(testKey)
	st, bh, err := configdb.Open(body, nil, testSecret)
	if err != nil || bh.Generation != 2 {
		t.Fatalf("bucket db: generation %d, %v", bh.Generation, err)
	}
	check("bucket after publish", st.Revocations())
}

// TestPrunedRevocationsStayPruned: with RevocationRetain set, a revocation
// held here and older than the retention (a writer pruned it) is not
// carried into a pulled DB that lacks it, nor back to the bucket by the
// next publish; one within the retention that the pulled DB lacks still is
// (a DB applied after a reset must not revive those sessions).
func TestPrunedRevocationsStayPruned(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem, func(o *configsync.Options) { o.RevocationRetain = time.Hour })
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	mustPublish(t, n, &configdb.RevokeSessions{Identity: "old", Since: t0.Add(-2 * time.Hour)})
	mustPublish(t, n, &configdb.RevokeSessions{Identity: "recent", Since: t0.Add(-10 * time.Minute)})

	// Another writer's later generation holds neither.
	other := mustApply(t, mustApply(t, configdb.Empty(), createUser("alice")), createUser("bob"))
	mem.Set(testKey, sealState(t, other, 10, t0.Add(time.Minute), testSecret))
	if res := mustSyncNow(t, n); !res.Downloaded || res.Generation != 10 {
		t.Fatalf("pull: %+v", res)
	}
	want := map[string]time.Time{"recent": t0.Add(-10 * time.Minute)}
	check := func(what string, got map[string]time.Time) {
		t.Helper()
		if len(got) != len(want) || !got["recent"].Equal(want["recent"]) {
			t.Fatalf("%s: revocations %v, want %v", what, got, want)
		}
	}
	check("snapshot", n.Current().Revocations())
	if !hasUser(n.Current(), "bob") {
		t.Fatal("the snapshot is not the pulled db")
	}
	local, _ := localState(t, n)
	check("local file", local.Revocations())

	mustPublish(t, n, createUser("carol"))
	body, _, _ := mem.Object(testKey)
	st, _, err := configdb.Open(body, nil, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	check("bucket after publish", st.Revocations())

	// A pulled DB that holds every revocation within the retention is
	// applied as it is: nothing merged, nothing re-sealed.
	other = mustApply(t, other, &configdb.RevokeSessions{Identity: "recent", Since: t0.Add(-10 * time.Minute)})
	mem.Set(testKey, sealState(t, other, 20, t0.Add(2*time.Minute), testSecret))
	if res := mustSyncNow(t, n); !res.Downloaded || res.Generation != 20 {
		t.Fatalf("pull: %+v", res)
	}
	check("snapshot", n.Current().Revocations())
	applied := n.logs.lines("config db applied")
	if last := applied[len(applied)-1]; last["generation"] != float64(20) || last["revocations_merged"] != nil {
		t.Fatalf("the last pull's log line: %v (revocations merged into a db that needed none?)", last)
	}
}

func TestDeletedObjectIsRecreated(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	if err := mem.Delete(context.Background(), testKey); err != nil {
		t.Fatal(err)
	}
	// If-Match on a vanished object answers 404: rebased onto "absent",
	// then created with If-None-Match: *.
	st := mustPublish(t, n, createUser("bob"))
	if st.Generation() != 2 || !hasUser(st, "alice") {
		t.Fatalf("generation %d", st.Generation())
	}
	body, _, ok := mem.Object(testKey)
	if !ok || !bytes.Equal(body, mustReadFile(t, n.path)) {
		t.Fatal("the object was not recreated with the local state")
	}
	// A pull of a vanished object keeps the snapshot.
	_ = mem.Delete(context.Background(), testKey)
	res := mustSyncNow(t, n)
	if res.Status != configsync.ResultEmpty || n.Current() != st {
		t.Fatalf("pull of a deleted object: %+v", res)
	}
	if _, err := os.Stat(n.path); err != nil {
		t.Fatal("the local file went away")
	}
}

func TestRestartWithCurrentLocalFile(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	a := newNode(t, mem)
	mustStart(t, a)
	mustPublish(t, a, createUser("alice"))
	_, etag, _ := mem.Object(testKey)

	// The same instance restarts: its file holds the bucket's DB. The
	// startup pull downloads it (the ETag is not known yet), sees the same
	// bytes, and applies nothing.
	again := newNodeIn(t, a.dir, mem)
	mustStart(t, again)
	p := again.Status().LastPull
	if p == nil || p.Result != configsync.ResultCurrent || p.ETag != etag || again.Status().ETag != etag {
		t.Fatalf("startup pull = %+v, held etag %q, want current with %q", p, again.Status().ETag, etag)
	}
	if len(again.logs.lines("config db applied")) != 0 {
		t.Fatal("the same db was applied again")
	}
	again.Hint(notify.Hint{ETag: etag}, "nats")
	if _, ran, _ := again.PullPending(context.Background()); ran {
		t.Fatal("a hint for the held db asked for a pull after restart")
	}
	// And it publishes with If-Match on that ETag at once.
	st := mustPublish(t, again, createUser("bob"))
	if st.Generation() != 2 || again.Status().LastPublish.Attempts != 1 {
		t.Fatalf("publish after restart: generation %d, %+v", st.Generation(), again.Status().LastPublish)
	}
}
