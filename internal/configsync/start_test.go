package configsync_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
	"github.com/dgp-proxy/dgp/internal/notify"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

func TestLocalOnly(t *testing.T) {
	n := newNode(t, nil)
	if _, err := n.Ready(context.Background()); !errors.Is(err, configsync.ErrNotStarted) {
		t.Fatalf("ready before start: %v", err)
	}
	mustStart(t, n)
	if r, err := n.Ready(context.Background()); r != configsync.ReadyDisabled || err != nil {
		t.Fatalf("ready = %q, %v", r, err)
	}
	if _, err := os.Stat(n.path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("startup wrote a local file although nothing changed")
	}
	mustPublish(t, n, createUser("alice"))
	st := mustPublish(t, n, createUser("bob"))
	if st.Generation() != 2 {
		t.Fatalf("generation %d, want 2", st.Generation())
	}
	if local, h := localState(t, n); h.Generation != 2 || view(t, local) != view(t, st) {
		t.Fatal("local file does not hold the state")
	}
	if _, err := n.SyncNow(context.Background()); !errors.Is(err, configsync.ErrDisabled) {
		t.Fatalf("sync-now without a bucket: %v", err)
	}
	if err := n.Poll(context.Background()); !errors.Is(err, configsync.ErrDisabled) {
		t.Fatalf("poll without a bucket: %v", err)
	}
	n.Hint(notify.Hint{ETag: "x"}, "nats")
	n.Resync("nats", "connected")
	if _, ran, _ := n.PullPending(context.Background()); ran {
		t.Fatal("a hint without a bucket asked for a pull")
	}
	// An op that does not apply changes nothing.
	if _, err := n.Publish(context.Background(), createUser("alice")); !errors.Is(err, configdb.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	// Run returns when its context ends.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Run(ctx); err != nil {
		t.Fatal(err)
	}

	// A restart loads the file.
	again := newNodeIn(t, n.dir, nil)
	mustStart(t, again)
	if view(t, again.Current()) != view(t, st) {
		t.Fatal("restart did not load the local db")
	}
}

func TestStartRefusesUnusableLocalFile(t *testing.T) {
	st := mustApply(t, configdb.Empty(), createUser("alice"))
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"another secret", sealState(t, st, 3, t0, []byte("not the configured secret")), "does not open with the configured bootstrap secret"},
		{"tampered", func() []byte { b := sealState(t, st, 3, t0, testSecret); b[len(b)-3] ^= 1; return b }(), "wrong secret, or the file was tampered with"},
		{"newer schema", sealRaw(t, []byte(`{}`), configdb.CurrentSchema+1, 3, t0, testSecret), "upgrade this instance"},
		{"truncated", sealState(t, st, 3, t0, testSecret)[:50], "is unusable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := configsynctest.NewMemBucket()
			n := newNode(t, mem)
			if err := os.WriteFile(n.path, tc.body, 0o600); err != nil {
				t.Fatal(err)
			}
			err := n.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), n.path) {
				t.Fatalf("Start = %v, want an error naming the file and %q", err, tc.want)
			}
			if !bytes.Equal(mustReadFile(t, n.path), tc.body) {
				t.Fatal("the local file was touched")
			}
			if mem.Calls("get")+mem.Calls("put") != 0 {
				t.Fatal("the bucket was touched")
			}
			if _, err := n.Ready(context.Background()); !errors.Is(err, configsync.ErrNotStarted) {
				t.Fatal("ready after a failed start")
			}
		})
	}
}

func TestStartUnreachableServesLocalThenRecovers(t *testing.T) {
	dir := t.TempDir()
	seed := newNodeIn(t, dir, nil)
	mustStart(t, seed)
	held := mustPublish(t, seed, createUser("alice"))

	mem := configsynctest.NewMemBucket()
	f := configsynctest.NewFaulty(mem)
	f.SetDown(&configsync.BucketError{Op: "put", Status: 503, Code: "ServiceUnavailable", Err: errors.New("dial tcp: connection refused")})
	n := newNodeIn(t, dir, f, func(o *configsync.Options) { o.RetryMax = 20 * time.Millisecond })
	mustStart(t, n)
	if r, _ := n.Ready(context.Background()); r != configsync.ReadyStale {
		t.Fatalf("ready = %q, want stale", r)
	}
	if view(t, n.Current()) != view(t, held) {
		t.Fatal("the local copy is not served")
	}
	if len(n.logs.lines("serving the local copy")) != 1 {
		t.Fatalf("no startup warning:\n%s", n.logs)
	}
	_, err := n.Publish(context.Background(), createUser("bob"))
	if !errors.Is(err, configsync.ErrUnavailable) {
		t.Fatalf("publish while unreachable: %v", err)
	}

	runLoop(t, n)
	f.SetDown(nil)
	testutil.RetryUntil(t, 20*time.Second, func() error {
		if p := n.Status().LastPull; p == nil || p.Result != configsync.ResultEmpty {
			return errors.New("no background pull has reached the bucket")
		}
		return nil
	})
	if r, _ := n.Ready(context.Background()); r != configsync.ReadyOK {
		t.Fatalf("ready = %q after recovery", r)
	}
	if _, _, ok := mem.Object(configsync.WitnessKey(testKey)); mem.Calls("put") < 4 || mem.Keys() != 1 || !ok {
		t.Fatalf("the probe did not run in the background (%d puts, %d objects, want the witness only)", mem.Calls("put"), mem.Keys())
	}
	if p := n.Status().LastPull; p == nil || p.Source != configsync.SourceStartup || p.Result != configsync.ResultEmpty {
		t.Fatalf("background boot pull: %+v", p)
	}
	// Nothing was uploaded by the boot; the first mutation creates the
	// object from the local state.
	st := mustPublish(t, n, createUser("bob"))
	if st.Generation() != 2 || !hasUser(st, "alice") {
		t.Fatalf("first publish: generation %d", st.Generation())
	}
}

func TestProbe(t *testing.T) {
	refused := &configsync.BucketError{Op: "put", Status: 403, Code: "AccessDenied", Err: errors.New("access denied")}
	cases := []struct {
		name  string
		setup func(mem *configsynctest.MemBucket, f *configsynctest.Faulty)
		want  error // nil: Start succeeds
	}{
		{"conditional writes enforced", func(*configsynctest.MemBucket, *configsynctest.Faulty) {}, nil},
		{"conditions ignored", func(mem *configsynctest.MemBucket, _ *configsynctest.Faulty) { mem.IgnoreConditions() },
			configsync.ErrNoConditionalWrites},
		{"If-Match ignored", func(_ *configsynctest.MemBucket, f *configsynctest.Faulty) {
			f.OnPut(func(ctx context.Context, key string, body []byte, im, inm string, next configsynctest.PutFunc) (string, error) {
				return next(ctx, key, body, "", inm)
			})
		}, configsync.ErrNoConditionalWrites},
		{"conditions not implemented", func(_ *configsynctest.MemBucket, f *configsynctest.Faulty) {
			f.OnPut(func(ctx context.Context, key string, body []byte, im, inm string, next configsynctest.PutFunc) (string, error) {
				if inm != "" || im != "" {
					return "", &configsync.BucketError{Op: "put", Status: 501, Code: "NotImplemented", Err: errors.New("not implemented")}
				}
				return next(ctx, key, body, im, inm)
			})
		}, configsync.ErrNoConditionalWrites},
		{"access denied", func(_ *configsynctest.MemBucket, f *configsynctest.Faulty) {
			f.OnPut(func(context.Context, string, []byte, string, string, configsynctest.PutFunc) (string, error) {
				return "", refused
			})
		}, configsync.ErrBucketRefused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := configsynctest.NewMemBucket()
			f := configsynctest.NewFaulty(mem)
			tc.setup(mem, f)
			n := newNode(t, f)
			err := n.Start(context.Background())
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
			} else if !errors.Is(err, tc.want) {
				t.Fatalf("Start = %v, want %v", err, tc.want)
			}
			left := 0
			if tc.want == nil {
				left = 1 // the witness of the passed probe
			}
			if _, _, ok := mem.Object(configsync.WitnessKey(testKey)); mem.Keys() != left || ok != (left == 1) {
				t.Fatalf("%d objects left (witness %v), want %d: the probe object was left behind", mem.Keys(), ok, left)
			}
			if mem.Calls("put") > 0 && mem.Calls("delete") == 0 {
				t.Fatal("the probe object was not deleted")
			}
		})
	}
}

func TestProbeDirect(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	if err := configsync.Probe(context.Background(), mem, "dir/.probe"); err != nil {
		t.Fatal(err)
	}
	f := configsynctest.NewFaulty(mem)
	f.SetDown(&configsync.BucketError{Op: "put", Status: 0, Err: errors.New("connection reset")})
	if err := configsync.Probe(context.Background(), f, "dir/.probe"); !errors.Is(err, configsync.ErrUnavailable) {
		t.Fatalf("probe of an unreachable bucket: %v", err)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	cases := map[string]func(*configsync.Options){
		"no secret":      func(o *configsync.Options) { o.Secret = nil },
		"no local path":  func(o *configsync.Options) { o.LocalPath = "" },
		"no key":         func(o *configsync.Options) { o.Bucket = configsynctest.NewMemBucket(); o.Key = "" },
		"bad role":       func(o *configsync.Options) { o.Role = "boss" },
		"reader, no bkt": func(o *configsync.Options) { o.Role = configsync.RoleReader; o.Bucket = nil },
		"long node id":   func(o *configsync.Options) { o.NodeID = strings.Repeat("n", 65) },
		"bad kdf":        func(o *configsync.Options) { o.KDF = configdb.KDFParams{Time: 99, MemoryKiB: 64, Threads: 1} },
		"negative poll":  func(o *configsync.Options) { o.PollInterval = -time.Second },
	}
	for name, mod := range cases {
		o := configsync.Options{Secret: testSecret, LocalPath: t.TempDir() + "/db", KDF: testKDF}
		mod(&o)
		if _, err := configsync.New(o); err == nil {
			t.Errorf("%s: New accepted the options", name)
		}
	}
}
