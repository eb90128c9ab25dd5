package configsync_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configsync"
)

// TestReceiveBuffersNeverOverwriteTheHeldDB: pulls read into two receive
// buffers in turn (the in-memory bucket implements GetInto, as the S3
// adapter does); neither the held DB's bytes nor a pending deferred write
// is ever overwritten by a later pull, whether it applies, is refused, or
// finds the DB unchanged.
func TestReceiveBuffersNeverOverwriteTheHeldDB(t *testing.T) {
	mem, a, b := writerAndReader(t, time.Hour)
	stop := startDeferring(t, b)
	heldIsBucketDB := func(step string) []byte {
		t.Helper()
		obj, _, _ := mem.Object(testKey)
		if held := configsync.HeldSealed(b.Syncer); !bytes.Equal(held, obj) {
			t.Fatalf("%s: the held DB's bytes are not the bucket's DB", step)
		}
		return obj
	}
	for _, name := range []string{"alice", "bob", "carol", "dave", "erin"} {
		mustPublish(t, a, createUser(name))
		if res := mustSyncNow(t, b); res.Status != configsync.ResultUpdated {
			t.Fatalf("pull of %s: %+v", name, res)
		}
		heldIsBucketDB("after the pull of " + name)
		if res := mustSyncNow(t, b); res.Status != configsync.ResultCurrent {
			t.Fatalf("pull again after %s: %+v", name, res)
		}
		heldIsBucketDB("after a pull finding " + name + "'s DB unchanged")
	}
	good := heldIsBucketDB("before the refused DB")

	// A DB that does not open is read into the free buffer and refused:
	// the held DB and the pending write keep their bytes.
	mem.Set(testKey, append([]byte("not a config db"), good[15:]...))
	if _, err := b.SyncNow(t.Context()); err == nil {
		t.Fatal("a DB that does not open was applied")
	}
	if held := configsync.HeldSealed(b.Syncer); !bytes.Equal(held, good) {
		t.Fatal("a refused pull overwrote the held DB's bytes")
	}
	mem.Set(testKey, good)
	stop()
	if got := mustReadFile(t, b.path); !bytes.Equal(got, good) {
		t.Fatal("the deferred write did not write the held DB's bytes")
	}
	if !hasUser(b.Current(), "erin") {
		t.Fatal("the held snapshot lost the last user")
	}
}
