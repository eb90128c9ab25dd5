package configsync_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
)

// brokenObjects are what a foreign writer or a torn copy can leave in the
// sync key that cannot be a DB of any fleet under any secret, made from a
// valid sealed DB.
func brokenObjects(valid []byte) map[string][]byte {
	return map[string][]byte{
		"truncated":      append([]byte(nil), valid[:len(valid)/2]...),
		"header-only":    append([]byte(nil), valid[:20]...),
		"garbage":        []byte("this is not a config db, it was written by something else"),
		"empty":          {},
		"trailing-bytes": append(append([]byte(nil), valid...), "trailing"...),
	}
}

// TestPublishOverBrokenObject: a structurally broken object in the sync
// key does not block mutations: the publish writes the held DB's next
// generation over it, with If-Match on the broken object's ETag, and says
// so at warn. A pull of it keeps the held state.
func TestPublishOverBrokenObject(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	f := configsynctest.NewFaulty(mem)
	n := newNode(t, f)
	mustStart(t, n)
	st := mustPublish(t, n, createUser("alice"))
	valid, _, _ := mem.Object(testKey)
	for name, broken := range brokenObjects(valid) {
		t.Run(name, func(t *testing.T) {
			gen := n.Current().Generation()
			brokenETag := mem.Set(testKey, broken)
			if _, err := n.SyncNow(context.Background()); err == nil {
				t.Fatal("a pull of a broken object succeeded")
			}
			if n.Current().Generation() != gen || !hasUser(n.Current(), "alice") {
				t.Fatal("a pull of a broken object changed the held state")
			}
			puts := recordPuts(f)
			user := "u-" + name
			st = mustPublish(t, n, createUser(user))
			if got := puts(); len(got) != 1 || got[0] != (putCall{brokenETag, ""}) {
				t.Fatalf("puts %+v, want one with If-Match on the broken object's ETag %q", got, brokenETag)
			}
			body, etag, _ := mem.Object(testKey)
			got, h, err := configdb.Open(body, nil, testSecret)
			if err != nil {
				t.Fatalf("the sync key does not hold a valid db after the publish: %v", err)
			}
			if h.Generation != gen+1 || !hasUser(got, "alice") || !hasUser(got, user) || st.Generation() != gen+1 {
				t.Fatalf("published generation %d (want %d), alice %v, %s %v", h.Generation, gen+1, hasUser(got, "alice"), user, hasUser(got, user))
			}
			if n.Status().ETag != etag {
				t.Fatalf("held etag %q, bucket %q", n.Status().ETag, etag)
			}
			lines := n.logs.lines("the sync bucket holds a broken config db")
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

// TestPublishRefusesOverUnverifiable: an object that is well formed but
// does not verify (a flipped ciphertext byte, or another secret: the two
// cannot be told apart), or of a newer schema, is never overwritten.
func TestPublishRefusesOverUnverifiable(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	valid, _, _ := mem.Object(testKey)
	tampered := append([]byte(nil), valid...)
	tampered[len(tampered)-20] ^= 0x01 // in the ciphertext
	other := sealState(t, n.Current(), 9, t0, []byte("another fleet's secret"))
	newer := sealRaw(t, []byte(`{}`), configdb.CurrentSchema+1, 9, t0, testSecret)
	for name, obj := range map[string][]byte{"tampered": tampered, "other-secret": other, "newer-schema": newer} {
		t.Run(name, func(t *testing.T) {
			mem.Set(testKey, obj)
			_, err := n.Publish(context.Background(), createUser("bob-"+name))
			if err == nil {
				t.Fatal("a publish overwrote a well-formed object it cannot verify")
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

// TestPublishOverBrokenNeedsAHeldDB: an instance that holds no DB has
// nothing of the fleet's to put in place of a broken object: it refuses.
func TestPublishOverBrokenNeedsAHeldDB(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	mem.Set(testKey, []byte("garbage"))
	_, err := n.Publish(context.Background(), createUser("alice"))
	wantErrIs(t, err, configsync.ErrUnavailable)
	if body, _, _ := mem.Object(testKey); string(body) != "garbage" {
		t.Fatal("an instance without a db overwrote the broken object")
	}
}
