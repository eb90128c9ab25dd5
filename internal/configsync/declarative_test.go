package configsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
	"github.com/dgp-proxy/dgp/internal/notify"
)

// A declarative Syncer, wired as the app wires it (a writer without a sync
// bucket), never touches the fleet's bucket: the bucket's DB (another
// instance's) is not applied, publishes are local, triggers do nothing,
// sync-now says "declarative", and so do status and readiness. The app
// wires readers the same way (a reconcile must apply): see
// TestDeclarativeReaderRoleIsLocal in internal/app.
func TestDeclarativeNeverUsesTheBucket(t *testing.T) {
	bucket := configsynctest.NewMemBucket()
	// Another instance published a DB with a user "mallory".
	other := newNode(t, bucket)
	mustStart(t, other)
	mustPublish(t, other, createUser("mallory"))
	before, beforeETag, _ := bucket.Object(testKey)
	calls := func() int {
		return bucket.Calls("get") + bucket.Calls("put") + bucket.Calls("head") + bucket.Calls("delete")
	}
	base := calls()

	n := newNode(t, nil, func(o *configsync.Options) { o.Declarative = true })
	ctx := context.Background()
	mustStart(t, n)
	if hasUser(n.Current(), "mallory") {
		t.Fatal("a declarative instance applied the bucket's DB at startup")
	}
	if r, err := n.Ready(ctx); r != configsync.ReadyDeclarative || err != nil {
		t.Fatalf("ready = %q, %v", r, err)
	}

	st := mustPublish(t, n, createUser("alice"))
	if st.Generation() != 1 || !hasUser(n.Current(), "alice") {
		t.Fatalf("publish: generation %d, current has alice: %v", st.Generation(), hasUser(n.Current(), "alice"))
	}
	if local, h := localState(t, n); h.Generation != 1 || !hasUser(local, "alice") {
		t.Fatal("the local file does not hold the published state")
	}
	// A no-op writes nothing.
	if got := mustPublish(t, n, noop{}); got != st {
		t.Fatal("a no-op publish changed the snapshot")
	}

	n.Hint(notify.Hint{ETag: "\"other\""}, "nats")
	n.Resync("nats", "connected")
	if _, ran, _ := n.PullPending(ctx); ran {
		t.Fatal("a hint made a declarative instance pull")
	}
	if err := n.Poll(ctx); !errors.Is(err, configsync.ErrDisabled) {
		t.Fatalf("poll: %v, want ErrDisabled", err)
	}
	res, err := n.SyncNow(ctx)
	if err != nil || res.Status != configsync.StatusDeclarative || res.Downloaded || res.Generation != 1 {
		t.Fatalf("sync-now = %+v, %v", res, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	cancel()
	if err := n.Run(runCtx); err != nil {
		t.Fatalf("Run: %v", err)
	}

	stat := n.Status()
	if stat.Mode != configsync.ModeDeclarative || stat.State != configsync.ReadyDeclarative || stat.Enabled {
		t.Fatalf("status: mode %q state %q enabled %v", stat.Mode, stat.State, stat.Enabled)
	}
	if _, err := json.Marshal(stat); err != nil {
		t.Fatal(err)
	}

	if got := calls(); got != base {
		t.Fatalf("the declarative instance made %d bucket calls", got-base)
	}
	after, afterETag, _ := bucket.Object(testKey)
	if afterETag != beforeETag || string(after) != string(before) {
		t.Fatal("the bucket's DB changed")
	}
	if hasUser(n.Current(), "mallory") {
		t.Fatal("the bucket's DB leaked into the declarative instance")
	}
}

// New refuses a declarative Syncer with a sync bucket or the reader role:
// the app wires declarative IAM as a writer without one.
func TestDeclarativeNeedsNoBucketAndTheWriterRole(t *testing.T) {
	base := configsync.Options{Secret: []byte("secret"), LocalPath: t.TempDir() + "/db", Key: testKey, Declarative: true}
	for name, o := range map[string]configsync.Options{
		"bucket": func() configsync.Options { o := base; o.Bucket = configsynctest.NewMemBucket(); return o }(),
		"reader": func() configsync.Options { o := base; o.Role = configsync.RoleReader; return o }(),
	} {
		if _, err := configsync.New(o); err == nil {
			t.Errorf("%s: New accepted a declarative syncer with it", name)
		}
	}
	if _, err := configsync.New(base); err != nil {
		t.Errorf("New refused a declarative writer without a bucket: %v", err)
	}
}

func TestStatusMode(t *testing.T) {
	local := newNode(t, nil)
	mustStart(t, local)
	if m := local.Status().Mode; m != configsync.ModeLocal {
		t.Fatalf("local mode %q", m)
	}
	synced := newNode(t, configsynctest.NewMemBucket())
	mustStart(t, synced)
	if m := synced.Status().Mode; m != configsync.ModeSync {
		t.Fatalf("sync mode %q", m)
	}
}

// noop is an Op that changes nothing.
type noop struct{}

func (noop) Apply(s *configdb.State, _ time.Time) (*configdb.State, error) { return s, nil }
func (noop) Describe() string                                              { return "noop" }
