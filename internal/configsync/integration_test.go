//go:build integration

package configsync_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

func TestIntegrationS3BucketSemantics(t *testing.T) {
	be := harnessBackend(t)
	bucket := mustBucket(t, be)
	b := configsync.NewS3Bucket(be, bucket)
	ctx := context.Background()

	if _, _, err := b.Get(ctx, "k", ""); !errors.Is(err, configsync.ErrNotFound) {
		t.Fatalf("get of a missing key: %v", err)
	}
	if _, err := b.Head(ctx, "k"); !errors.Is(err, configsync.ErrNotFound) {
		t.Fatalf("head of a missing key: %v", err)
	}
	e1, err := b.Put(ctx, "k", []byte("one"), "", "*")
	if err != nil || e1 == "" || strings.Contains(e1, `"`) {
		t.Fatalf("create-only put: %q %v", e1, err)
	}
	if _, err := b.Put(ctx, "k", []byte("two"), "", "*"); !errors.Is(err, configsync.ErrPreconditionFailed) {
		t.Fatalf("create-only put over an object: %v", err)
	}
	body, etag, err := b.Get(ctx, "k", "")
	if err != nil || string(body) != "one" || etag != e1 {
		t.Fatalf("get = %q %q %v", body, etag, err)
	}
	if _, _, err := b.Get(ctx, "k", e1); !errors.Is(err, configsync.ErrNotModified) {
		t.Fatalf("conditional get with the current etag: %v", err)
	}
	e2, err := b.Put(ctx, "k", []byte("two"), e1, "")
	if err != nil || e2 == e1 {
		t.Fatalf("put If-Match current: %q %v", e2, err)
	}
	if _, err := b.Put(ctx, "k", []byte("three"), e1, ""); !errors.Is(err, configsync.ErrPreconditionFailed) {
		t.Fatalf("put If-Match stale: %v", err)
	}
	if h, err := b.Head(ctx, "k"); err != nil || h != e2 {
		t.Fatalf("head = %q %v", h, err)
	}
	testutil.Must(t, b.Delete(ctx, "k"), "delete")
	// If-Match on a missing object: 404 or 412, both rebase a publish.
	_, err = b.Put(ctx, "k", []byte("x"), e2, "")
	if !errors.Is(err, configsync.ErrNotFound) && !errors.Is(err, configsync.ErrPreconditionFailed) {
		t.Fatalf("put If-Match on a missing object: %v", err)
	}
	t.Logf("If-Match on a missing object: %v", err)
	// A missing bucket is a BucketError with its status, not a missing key.
	_, _, err = configsync.NewS3Bucket(be, bucket+"-missing").Get(ctx, "k", "")
	var bErr *configsync.BucketError
	if !errors.As(err, &bErr) || bErr.Status != 404 || errors.Is(err, configsync.ErrNotFound) {
		t.Fatalf("get from a missing bucket: %v", err)
	}
}

func TestIntegrationProbe(t *testing.T) {
	be := harnessBackend(t)
	bucket := mustBucket(t, be)
	n := s3Node(t, be, bucket)
	mustStart(t, n)
	if keys := listKeys(t, be, bucket); len(keys) != 1 || keys[0] != configsync.WitnessKey(testKey) {
		t.Fatalf("startup left objects %v, want the probe witness only", keys)
	}
	// Without the witness the next start probes again (a witness would skip it).
	_, err := be.DeleteObject(context.Background(), bucket, configsync.WitnessKey(testKey), storage.DeleteOptions{})
	testutil.Must(t, err, "delete the witness")
	// A store that drops the conditions (a wrapper of the real bucket).
	f := configsynctest.NewFaulty(configsync.NewS3Bucket(be, bucket))
	f.OnPut(func(ctx context.Context, key string, body []byte, im, inm string, next configsynctest.PutFunc) (string, error) {
		return next(ctx, key, body, "", "")
	})
	bad := newNode(t, f, func(o *configsync.Options) { o.BucketName = bucket })
	err = bad.Start(context.Background())
	if !errors.Is(err, configsync.ErrNoConditionalWrites) {
		t.Fatalf("Start on a bucket ignoring conditions: %v", err)
	}
	if keys := listKeys(t, be, bucket); len(keys) != 0 {
		t.Fatalf("the failed probe left objects: %v", keys)
	}
	// A missing bucket stops startup too (4xx: configuration problem).
	missing := s3Node(t, be, bucket+"-nope")
	if err := missing.Start(context.Background()); !errors.Is(err, configsync.ErrBucketRefused) {
		t.Fatalf("Start on a missing bucket: %v", err)
	}
}

// TestIntegrationFleetConcurrentMutations: three instances on one bucket,
// forty concurrent mutations spread over them; no acknowledged mutation is
// lost and every instance ends with the same state.
func TestIntegrationFleetConcurrentMutations(t *testing.T) {
	be := harnessBackend(t)
	bucket := mustBucket(t, be)
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = s3Node(t, be, bucket)
		mustStart(t, nodes[i])
	}
	ctx := context.Background()

	// Seed through node 0: three groups and sixteen users.
	var groups []string
	for i := 0; i < 3; i++ {
		op := configdb.NewCreateGroup(fmt.Sprintf("group-%d", i), "", nil, nil)
		mustPublish(t, nodes[0], op)
		groups = append(groups, op.ID)
	}
	var pre []string
	for i := 0; i < 16; i++ {
		op := createUser(fmt.Sprintf("pre-%02d", i))
		mustPublish(t, nodes[0], op)
		pre = append(pre, op.ID)
	}
	seedGen := nodes[0].Current().Generation()
	for _, n := range nodes[1:] {
		mustSyncNow(t, n)
	}

	off := false
	var ops []configdb.Op
	for i := 0; i < 16; i++ {
		ops = append(ops, createUser(fmt.Sprintf("new-%02d", i)))
	}
	for i := 0; i < 8; i++ {
		ops = append(ops, &configdb.UpdateUser{ID: pre[i], Enabled: &off})
		ops = append(ops, &configdb.DeleteUser{ID: pre[8+i]})
		ops = append(ops, &configdb.AddMember{GroupID: groups[i%3], UserID: pre[i]})
	}
	if len(ops) != 40 {
		t.Fatalf("%d ops", len(ops))
	}
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, op := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start // all at once
			_, errs[i] = nodes[i%3].Publish(ctx, op)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("mutation %d (%s) on node %d: %v", i, ops[i].Describe(), i%3, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	for _, n := range nodes {
		mustSyncNow(t, n)
	}
	want := view(t, nodes[0].Current())
	for i, n := range nodes[1:] {
		if got := view(t, n.Current()); got != want {
			t.Fatalf("node %d differs from node 0:\n%s\nvs\n%s", i+1, got, want)
		}
	}
	st := nodes[0].Current()
	if st.Generation() != seedGen+40 {
		t.Fatalf("generation %d, want %d (one per acknowledged mutation)", st.Generation(), seedGen+40)
	}
	for i := 0; i < 16; i++ {
		if !hasUser(st, fmt.Sprintf("new-%02d", i)) {
			t.Errorf("created user new-%02d is missing", i)
		}
	}
	for i := 0; i < 8; i++ {
		u, ok := st.User(pre[i])
		if !ok || u.Enabled {
			t.Errorf("pre-%02d: present %v, enabled %v (want disabled)", i, ok, u.Enabled)
		}
		if g, _ := st.Group(groups[i%3]); !contains(g.MemberIDs, pre[i]) {
			t.Errorf("pre-%02d is not in group-%d", i, i%3)
		}
		if _, ok := st.User(pre[8+i]); ok {
			t.Errorf("deleted user pre-%02d is still there", 8+i)
		}
	}
	var conflicts uint64
	for i, n := range nodes {
		c := n.Status().ConflictsRebased
		conflicts += c
		t.Logf("node %d: %d conflicts rebased, last publish %+v", i, c, n.Status().LastPublish)
	}
	if conflicts == 0 {
		t.Fatal("forty concurrent mutations on three instances met no compare-and-swap conflict")
	}
	// Every local file holds the same state.
	for i, n := range nodes {
		if local, _ := localState(t, n); view(t, local) != want {
			t.Errorf("node %d: local file differs", i)
		}
	}
}

func contains(ids []string, id string) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// TestIntegrationRebaseAfterInjectedRace: the 412 between a GET and its
// PUT, produced on demand by publishing from another instance in between,
// against real MinIO.
func TestIntegrationRebaseAfterInjectedRace(t *testing.T) {
	be := harnessBackend(t)
	bucket := mustBucket(t, be)
	f := configsynctest.NewFaulty(configsync.NewS3Bucket(be, bucket))
	a := newNode(t, f, func(o *configsync.Options) { o.BucketName = bucket; o.Now = time.Now })
	b := s3Node(t, be, bucket)
	mustStart(t, a)
	mustStart(t, b)
	mustPublish(t, a, createUser("base"))
	var once sync.Once
	f.OnGet(func(ctx context.Context, key, inm string, next configsynctest.GetFunc) ([]byte, string, error) {
		body, etag, err := next(ctx, key, inm)
		once.Do(func() { mustPublish(t, b, createUser("bob")) })
		return body, etag, err
	})
	st := mustPublish(t, a, createUser("alice"))
	if !hasUser(st, "bob") || !hasUser(st, "alice") || st.Generation() != 3 || a.Status().ConflictsRebased != 1 {
		t.Fatalf("after the race: generation %d, conflicts %d\n%s", st.Generation(), a.Status().ConflictsRebased, view(t, st))
	}
}

func TestIntegrationPollAloneConverges(t *testing.T) {
	be := harnessBackend(t)
	bucket := mustBucket(t, be)
	a := s3Node(t, be, bucket)
	b := s3Node(t, be, bucket, func(o *configsync.Options) { o.PollInterval = time.Second; o.Role = configsync.RoleReader })
	mustStart(t, a)
	mustStart(t, b)
	runLoop(t, b)
	for i := 0; i < 3; i++ {
		mustPublish(t, a, createUser(fmt.Sprintf("user-%d", i)))
	}
	want := view(t, a.Current())
	// The pull is counted after the swap and the local file write: wait
	// for both.
	testutil.RetryUntil(t, 30*time.Second, func() error {
		if view(t, b.Current()) != want {
			return fmt.Errorf("reader at generation %d, writer at %d", b.Current().Generation(), a.Current().Generation())
		}
		if got := b.metric(t, "dgp_config_sync_pulls_total", "source", "poll", "result", "updated"); got < 1 {
			return fmt.Errorf("no poll applied a db (%v)", got)
		}
		return nil
	})
}

func TestIntegrationBadObjectRefusedEverywhere(t *testing.T) {
	be := harnessBackend(t)
	bucket := mustBucket(t, be)
	nodes := []*node{s3Node(t, be, bucket), s3Node(t, be, bucket), s3Node(t, be, bucket)}
	for _, n := range nodes {
		mustStart(t, n)
	}
	mustPublish(t, nodes[0], createUser("alice"))
	mustPublish(t, nodes[1], createUser("bob"))
	for _, n := range nodes {
		mustSyncNow(t, n)
	}
	good := mustReadFile(t, nodes[0].path)
	want := view(t, nodes[0].Current())
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		body []byte
		// replaced: a torn copy of the DB the writer holds, which its
		// next publish replaces (see publish_broken_test.go).
		replaced bool
	}{
		{"garbage", []byte("this is not a config db"), false},
		{"truncated", good[:len(good)/2], true},
		{"flipped byte", func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 1; return b }(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := be.PutObject(ctx, bucket, testKey, bytes.NewReader(tc.body), int64(len(tc.body)), storage.PutOptions{})
			testutil.Must(t, err, "put bad object")
			for i, n := range nodes {
				if _, err := n.SyncNow(ctx); !errors.Is(err, configsync.ErrRejected) {
					t.Fatalf("node %d applied a bad object: %v", i, err)
				}
				if view(t, n.Current()) != want {
					t.Fatalf("node %d changed state", i)
				}
				if local, _ := localState(t, n); view(t, local) != want {
					t.Fatalf("node %d: local file changed", i)
				}
			}
			if tc.replaced {
				mustPublish(t, nodes[2], createUser("carol"))
				for _, n := range nodes {
					mustSyncNow(t, n)
				}
				want = view(t, nodes[2].Current())
				return
			}
			// A writer does not build on (nor overwrite) what it cannot verify.
			if _, err := nodes[2].Publish(ctx, createUser("carol")); !errors.Is(err, configsync.ErrUnavailable) {
				t.Fatalf("publish over a bad object: %v", err)
			}
		})
	}
}

// TestIntegrationOutageAndRestart: a private MinIO stops; publishes fail
// with ErrUnavailable while the snapshot is still served; after a restart
// on the same port and data dir, the fleet converges.
func TestIntegrationOutageAndRestart(t *testing.T) {
	m := testutil.StartMinIO(t)
	be := newBackend(t, m.Endpoint, m.AccessKey, m.SecretKey)
	bucket := testutil.UniqueName("dgp-cs-outage")
	testutil.Must(t, be.CreateBucket(context.Background(), bucket, storage.CreateBucketOptions{}), "create bucket")
	mods := func(o *configsync.Options) {
		o.PollInterval = time.Second
		o.RequestTimeout = 5 * time.Second
		o.RetryMax = 200 * time.Millisecond
	}
	a := s3Node(t, be, bucket, mods)
	b := s3Node(t, be, bucket, mods)
	mustStart(t, a)
	mustStart(t, b)
	runLoop(t, a)
	runLoop(t, b)
	held := mustPublish(t, a, createUser("alice"))
	mustSyncNow(t, b)

	m.Stop()
	ctx := context.Background()
	op := createUser("bob")
	if _, err := a.Publish(ctx, op); !errors.Is(err, configsync.ErrUnavailable) {
		t.Fatalf("publish with the bucket down: %v", err)
	}
	if a.Current() != held || !hasUser(b.Current(), "alice") {
		t.Fatal("the snapshot is not served during the outage")
	}
	if _, err := b.SyncNow(ctx); !errors.Is(err, configsync.ErrUnavailable) {
		t.Fatalf("sync-now with the bucket down: %v", err)
	}
	for _, n := range []*node{a, b} {
		if r, _ := n.Ready(ctx); r != configsync.ReadyStale {
			t.Fatalf("ready during the outage = %q", r)
		}
	}

	m.Start()
	testutil.RetryUntil(t, 60*time.Second, func() error {
		_, err := a.Publish(ctx, op) // the same op: applied once
		return err
	})
	want := view(t, a.Current())
	testutil.RetryUntil(t, 60*time.Second, func() error {
		if view(t, b.Current()) != want {
			return fmt.Errorf("reader at generation %d", b.Current().Generation())
		}
		if r, _ := b.Ready(ctx); r != configsync.ReadyOK {
			return fmt.Errorf("reader %s", r)
		}
		return nil
	})
	if a.Current().Generation() != 2 {
		t.Fatalf("generation %d, want 2", a.Current().Generation())
	}
}
