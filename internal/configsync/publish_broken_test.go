package configsync_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
)

// wantBucketDB checks that the sync key holds a valid DB at generation gen
// with the users named.
func wantBucketDB(t *testing.T, mem *configsynctest.MemBucket, gen uint64, users ...string) {
	t.Helper()
	body, _, _ := mem.Object(testKey)
	st, h, err := configdb.Open(body, nil, testSecret)
	if err != nil {
		t.Fatalf("the sync key does not hold a valid db: %v", err)
	}
	if h.Generation != gen {
		t.Fatalf("the sync key holds generation %d, want %d", h.Generation, gen)
	}
	for _, u := range users {
		if !hasUser(st, u) {
			t.Fatalf("the sync key's db lacks %s", u)
		}
	}
}

// TestPublishOverBrokenCopyOfHeldDB: a torn copy of the DB this instance
// holds (cut in the ciphertext, or with bytes appended) does not block
// mutations: the publish writes the held DB's next generation over it,
// with If-Match on the broken object's ETag, and says so at warn. A pull
// of it keeps the held state.
func TestPublishOverBrokenCopyOfHeldDB(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	f := configsynctest.NewFaulty(mem)
	n := newNode(t, f)
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	for _, tc := range []struct {
		name   string
		mangle func(valid []byte) []byte
	}{
		{"truncated-half", func(v []byte) []byte { return v[:len(v)/2] }},
		{"truncated-tag", func(v []byte) []byte { return v[:len(v)-3] }},
		{"trailing-bytes", func(v []byte) []byte { return append(v, "trailing"...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			valid, _, _ := mem.Object(testKey)
			broken := tc.mangle(bytes.Clone(valid))
			gen := n.Current().Generation()
			brokenETag := mem.Set(testKey, broken)
			if _, err := n.SyncNow(context.Background()); err == nil {
				t.Fatal("a pull of a broken object succeeded")
			}
			if n.Current().Generation() != gen || !hasUser(n.Current(), "alice") {
				t.Fatal("a pull of a broken object changed the held state")
			}
			puts := recordPuts(f)
			user := "u-" + tc.name
			st := mustPublish(t, n, createUser(user))
			if got := puts(); len(got) != 1 || got[0] != (putCall{brokenETag, ""}) {
				t.Fatalf("puts %+v, want one with If-Match on the broken object's ETag %q", got, brokenETag)
			}
			wantBucketDB(t, mem, gen+1, "alice", user)
			_, etag, _ := mem.Object(testKey)
			if st.Generation() != gen+1 || n.Status().ETag != etag {
				t.Fatalf("published generation %d, held etag %q, bucket %q", st.Generation(), n.Status().ETag, etag)
			}
			lines := n.logs.lines("publishing the held one over it")
			if len(lines) == 0 {
				t.Fatalf("no warning about the broken object:\n%s", n.logs)
			}
			l := lines[len(lines)-1]
			if l["level"] != "warn" || l["etag"] != brokenETag || l["bytes"] != float64(len(broken)) {
				t.Fatalf("warning %v, want level warn, etag %q, bytes %d", l, brokenETag, len(broken))
			}
		})
	}
}

// TestPublishOverBrokenCopyOfOlderDB: a torn copy of a DB older than the
// one held (a stale copy written back) is published over too.
func TestPublishOverBrokenCopyOfOlderDB(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	old, _, _ := mem.Object(testKey)
	mustPublish(t, n, createUser("bob"))
	mem.Set(testKey, old[:len(old)/2])
	mustPublish(t, n, createUser("carol"))
	wantBucketDB(t, mem, 3, "alice", "bob", "carol")
}

// TestPublishRefusesOverBrokenDBNotHeld: a torn copy of a DB newer than
// the one this instance holds (it had not pulled it yet) is not published
// over: the held snapshot lacks changes other instances acknowledged. The
// instance that holds that DB replaces it, and the first one then
// publishes on top.
func TestPublishRefusesOverBrokenDBNotHeld(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	a := newNode(t, mem)
	b := newNode(t, mem)
	mustStart(t, a)
	mustStart(t, b)
	mustPublish(t, a, createUser("alice"))
	mustSyncNow(t, b)
	mustPublish(t, a, createUser("bob")) // b does not pull it
	newest, _, _ := mem.Object(testKey)
	torn := newest[:len(newest)/2]
	mem.Set(testKey, torn)

	_, err := b.Publish(context.Background(), createUser("carol"))
	wantErrIs(t, err, configsync.ErrUnavailable)
	if body, _, _ := mem.Object(testKey); !bytes.Equal(body, torn) {
		t.Fatal("an instance that does not hold the broken db published over it")
	}
	if len(b.logs.lines("a broken copy of a config db this instance does not hold")) == 0 {
		t.Fatalf("the refusal is not logged:\n%s", b.logs)
	}

	mustPublish(t, a, createUser("dave"))
	wantBucketDB(t, mem, 3, "alice", "bob", "dave")
	mustPublish(t, b, createUser("carol"))
	wantBucketDB(t, mem, 4, "alice", "bob", "dave", "carol")
}

// TestPublishRefusesOverUnidentifiable: an object whose header cannot be
// read (garbage, empty, cut inside the header) does not say which DB it
// replaced, which may be newer than the one held: it is not published over.
// Nor is a well-formed object that does not verify (a flipped ciphertext
// byte, or another secret: the two cannot be told apart), nor one of a
// newer schema.
func TestPublishRefusesOverUnidentifiable(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	valid, _, _ := mem.Object(testKey)
	tampered := bytes.Clone(valid)
	tampered[len(tampered)-20] ^= 0x01 // in the ciphertext
	for name, obj := range map[string][]byte{
		"garbage":      []byte("this is not a config db, it was written by something else"),
		"empty":        {},
		"header-cut":   bytes.Clone(valid[:20]),
		"tampered":     tampered,
		"other-secret": sealState(t, n.Current(), 9, t0, []byte("another fleet's secret")),
		"newer-schema": sealRaw(t, []byte(`{}`), configdb.CurrentSchema+1, 9, t0, testSecret),
	} {
		t.Run(name, func(t *testing.T) {
			mem.Set(testKey, obj)
			_, err := n.Publish(context.Background(), createUser("bob-"+name))
			if err == nil {
				t.Fatal("a publish overwrote an object it cannot identify or verify")
			}
			if body, _, _ := mem.Object(testKey); !bytes.Equal(body, obj) {
				t.Fatal("the object was overwritten")
			}
			if hasUser(n.Current(), "bob-"+name) {
				t.Fatal("a refused publish changed the snapshot")
			}
		})
	}
}
