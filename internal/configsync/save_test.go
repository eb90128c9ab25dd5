package configsync_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
)

// startLoop runs n.Run in the background; the returned stop ends it and
// waits for it (also at the end of the test).
func startLoop(t testing.TB, n *node) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := n.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func withSaveDelay(d time.Duration) func(*configsync.Options) {
	return func(o *configsync.Options) { o.SaveDelay = d }
}

// waitFile polls until the node's local file holds want.
func waitFile(t testing.TB, n *node, want []byte, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(n.path); err == nil && bytes.Equal(b, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the local file never held %s\nlogs:\n%s", what, n.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// writerAndReader starts two nodes on one in-memory bucket: a, and b
// whose Run writes pulled DBs saveDelay late.
func writerAndReader(t testing.TB, saveDelay time.Duration) (mem *configsynctest.MemBucket, a, b *node) {
	t.Helper()
	mem = configsynctest.NewMemBucket()
	a = newNode(t, mem)
	b = newNode(t, mem, withSaveDelay(saveDelay))
	mustStart(t, a)
	mustStart(t, b)
	return mem, a, b
}

// startDeferring runs n's loop (startLoop) and waits until it defers the
// local writes of pulls.
func startDeferring(t testing.TB, n *node) (stop func()) {
	t.Helper()
	stop = startLoop(t, n)
	waitDeferring(t, n)
	return stop
}

// fileHoldsBucketDB reports whether n's local file holds the bucket's
// current DB, byte for byte.
func fileHoldsBucketDB(t testing.TB, mem *configsynctest.MemBucket, n *node) bool {
	t.Helper()
	obj, _, _ := mem.Object(testKey)
	return bytes.Equal(mustReadFile(t, n.path), obj)
}

// TestRunDefersPulledWrites: while Run runs, a pull applies the bucket's
// DB at once and leaves the local file to Run, which writes the latest DB
// pulled before it returns.
func TestRunDefersPulledWrites(t *testing.T) {
	mem, a, b := writerAndReader(t, time.Hour)
	mustPublish(t, a, createUser("alice"))
	mustSyncNow(t, b) // no Run yet: written at once
	if !fileHoldsBucketDB(t, mem, b) {
		t.Fatal("a pull without Run did not write the local file")
	}

	stop := startDeferring(t, b)
	mustPublish(t, a, createUser("dave"))
	if res := mustSyncNow(t, b); res.Status != configsync.ResultUpdated {
		t.Fatalf("sync-now = %+v", res)
	}
	if !hasUser(b.Current(), "dave") {
		t.Fatal("the pull did not apply the bucket's db")
	}
	if fileHoldsBucketDB(t, mem, b) {
		t.Fatal("the local file was written on the pull's path (SaveDelay is an hour)")
	}
	stop()
	if !fileHoldsBucketDB(t, mem, b) {
		t.Fatal("Run returned without writing the latest pulled db to the local file")
	}
	// After Run, pulls write at once again.
	mustPublish(t, a, createUser("erin"))
	mustSyncNow(t, b)
	if !fileHoldsBucketDB(t, mem, b) {
		t.Fatal("a pull after Run returned did not write the local file")
	}
}

// waitDeferring waits until n's Run defers the local writes of pulls.
func waitDeferring(t testing.TB, n *node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !configsync.DefersLocalWrites(n.Syncer) {
		if time.Now().After(deadline) {
			t.Fatal("Run never turned deferred local writes on")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRunWritesPulledAfterDelay: with a short SaveDelay the loop writes
// the latest pulled DB by itself.
func TestRunWritesPulledAfterDelay(t *testing.T) {
	mem, a, b := writerAndReader(t, time.Millisecond)
	startDeferring(t, b)
	for _, name := range []string{"alice", "bob", "carol"} {
		mustPublish(t, a, createUser(name))
		mustSyncNow(t, b)
	}
	latest, _, _ := mem.Object(testKey)
	waitFile(t, b, latest, "the latest pulled db")
	st, _ := localState(t, b)
	if st.Generation() != a.Current().Generation() || !hasUser(st, "carol") {
		t.Fatalf("local file generation %d, want %d with carol", st.Generation(), a.Current().Generation())
	}
}

// TestPublishAfterDeferredPull: a publish writes the local file at once,
// and the deferred write of an earlier pull never replaces it with the
// older DB.
func TestPublishAfterDeferredPull(t *testing.T) {
	mem, a, b := writerAndReader(t, time.Hour)
	stop := startDeferring(t, b)
	mustPublish(t, a, createUser("alice"))
	mustSyncNow(t, b) // deferred
	mustPublish(t, b, createUser("bob"))
	if !fileHoldsBucketDB(t, mem, b) {
		t.Fatal("the publish did not write the local file at once")
	}
	stop()
	if !fileHoldsBucketDB(t, mem, b) {
		t.Fatal("Run's deferred write replaced the published db with the older pulled one")
	}
}

// TestRestartBeforeDeferredWrite: an instance that dies before its
// deferred write restarts from its older local file and pulls the DB it had
// applied (and anything newer) back from the bucket.
func TestRestartBeforeDeferredWrite(t *testing.T) {
	mem, a, b := writerAndReader(t, time.Hour)
	mustPublish(t, a, createUser("alice"))
	mustSyncNow(t, b) // written at once: the file holds alice
	startDeferring(t, b)
	alice, _ := a.Current().UserByName("alice")
	off := false
	mustPublish(t, a, &configdb.UpdateUser{ID: alice.ID, Enabled: &off})
	mustSyncNow(t, b) // deferred: the file still holds alice enabled
	if u, ok := b.Current().UserByName("alice"); !ok || u.Enabled {
		t.Fatal("the pull did not apply the disable")
	}
	fileSt, _ := localState(t, b)
	if u, ok := fileSt.UserByName("alice"); !ok || !u.Enabled {
		t.Fatal("test premise: the local file should still hold alice enabled")
	}
	// "Crash": a new instance on the same data dir while b's write is
	// still pending.
	c := newNodeIn(t, b.dir, mem)
	mustStart(t, c)
	if c.Current().Generation() != a.Current().Generation() {
		t.Fatalf("restarted at generation %d, want the applied %d", c.Current().Generation(), a.Current().Generation())
	}
	if u, ok := c.Current().UserByName("alice"); !ok || u.Enabled {
		t.Fatal("the restarted instance serves the disabled credential as enabled")
	}
}

// TestEmptyObjectIsNotTheHeldDB: a zero-byte object in the sync key is
// refused, never taken for the DB held, whether the node holds nothing
// (a fresh instance) or a DB.
func TestEmptyObjectIsNotTheHeldDB(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	mem.Set(testKey, []byte{})
	res, err := n.SyncNow(context.Background())
	if err == nil || res.Status == configsync.ResultCurrent {
		t.Fatalf("empty object, nothing held: sync-now = %+v, %v; want a refusal", res, err)
	}

	a := newNode(t, mem)
	mustStart(t, a)
	mem.Set(testKey, nil)
	if err := mem.Delete(context.Background(), testKey); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, a, createUser("alice"))
	mustSyncNow(t, n)
	held := n.Current()
	mem.Set(testKey, []byte{})
	res, err = n.SyncNow(context.Background())
	if err == nil || res.Status == configsync.ResultCurrent || n.Current() != held {
		t.Fatalf("empty object, a db held: sync-now = %+v, %v; want a refusal keeping the db", res, err)
	}
}

// TestRunWritesWithinMaxDelayWhilePulling: pulls that never pause for
// SaveDelay still get the latest DB written, SaveMaxDelay after the first
// unwritten one.
func TestRunWritesWithinMaxDelayWhilePulling(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	a := newNode(t, mem)
	b := newNode(t, mem, func(o *configsync.Options) { o.SaveDelay, o.SaveMaxDelay = 300*time.Millisecond, 600*time.Millisecond })
	mustStart(t, a)
	mustStart(t, b)
	mustPublish(t, a, createUser("alice"))
	mustSyncNow(t, b) // no Run yet: written at once
	startDeferring(t, b)
	first := a.Current().Generation()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		mustPublish(t, a, createUser("u"+strconv.Itoa(i)))
		mustSyncNow(t, b) // deferred: the pulls never pause for SaveDelay
		if st, _ := localState(t, b); st.Generation() > first {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pulls in 30 s and the local file was never written (SaveMaxDelay 600ms)", i+1)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
