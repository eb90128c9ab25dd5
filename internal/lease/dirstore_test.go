package lease_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

func TestDirStoreCAS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := lease.NewDirStore(dir)
	testutil.Must(t, err, "new")
	key := lease.Key(kind, rule)
	if _, _, err := s.Get(ctx, key); !errors.Is(err, lease.ErrNotFound) {
		t.Fatalf("get of a missing key: %v", err)
	}
	if _, err := s.PutIfMatch(ctx, key, []byte("x"), "abc"); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("replace of a missing key: %v", err)
	}
	e1, err := s.PutIfNoneMatch(ctx, key, []byte("one"))
	testutil.Must(t, err, "create")
	if _, err := s.PutIfNoneMatch(ctx, key, []byte("two")); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	body, etag, err := s.Get(ctx, key)
	testutil.Must(t, err, "get")
	if string(body) != "one" || etag != e1 {
		t.Fatalf("got %q %s, want one %s", body, etag, e1)
	}
	e2, err := s.PutIfMatch(ctx, key, []byte("three"), e1)
	testutil.Must(t, err, "replace")
	if e2 == e1 {
		t.Fatal("etag unchanged by a replace")
	}
	if _, err := s.PutIfMatch(ctx, key, []byte("four"), e1); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("replace with a stale etag: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key))); err != nil || string(b) != "three" {
		t.Fatalf("file holds %q (%v), want three", b, err)
	}
	// A second store on the same directory (another process) agrees.
	s2, err := lease.NewDirStore(dir)
	testutil.Must(t, err, "second store")
	if _, err := s2.PutIfMatch(ctx, key, []byte("five"), e1); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("stale replace through a second store: %v", err)
	}
	if _, err := s2.PutIfMatch(ctx, key, []byte("five"), e2); err != nil {
		t.Fatalf("replace through a second store: %v", err)
	}
	for _, bad := range []string{"../x", "/etc/passwd", "a//b", "a/./b", "", `a\b`} {
		if _, _, err := s.Get(ctx, bad); !errors.Is(err, lease.ErrInvalid) {
			t.Errorf("key %q: %v, want ErrInvalid", bad, err)
		}
	}
}

// Racing conditional writes on one directory through several stores:
// exactly one create and one replace per ETag win.
func TestDirStoreRace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := "k/lease.json"
	stores := make([]*lease.DirStore, 16)
	for i := range stores {
		s, err := lease.NewDirStore(dir)
		testutil.Must(t, err, "new")
		stores[i] = s
	}
	count := func(f func(i int, s *lease.DirStore) error) int {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
		)
		for i, s := range stores {
			wg.Go(func() {
				err := f(i, s)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, lease.ErrConflict):
					t.Errorf("store %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		return wins
	}
	if n := count(func(i int, s *lease.DirStore) error {
		_, err := s.PutIfNoneMatch(ctx, key, fmt.Appendf(nil, "create %d", i))
		return err
	}); n != 1 {
		t.Fatalf("%d creates won", n)
	}
	for round := range 5 {
		_, etag, err := stores[0].Get(ctx, key)
		testutil.Must(t, err, "get")
		if n := count(func(i int, s *lease.DirStore) error {
			_, err := s.PutIfMatch(ctx, key, fmt.Appendf(nil, "round %d store %d", round, i), etag)
			return err
		}); n != 1 {
			t.Fatalf("round %d: %d replaces won", round, n)
		}
	}
}

func TestValidate(t *testing.T) {
	if errs := lease.Validate("storage.replication", lease.DefaultTTL, lease.DefaultHeartbeat); len(errs) != 0 {
		t.Fatalf("defaults refused: %v", errs)
	}
	errs := lease.Validate("storage.replication", 20*time.Second, 20*time.Second)
	if len(errs) != 1 || errs[0].Error() != "storage.replication.heartbeat_interval (20s) must be less than lease_ttl (20s)" {
		t.Fatalf("heartbeat = ttl: %v", errs)
	}
	if errs := lease.Validate("x", 0, -time.Second); len(errs) != 2 {
		t.Fatalf("zero ttl, negative heartbeat: %v", errs)
	}
	if m := lease.DefaultMargin(lease.DefaultTTL, lease.DefaultHeartbeat); m != lease.MaxMargin {
		t.Fatalf("default margin %s", m)
	}
	if m := lease.DefaultMargin(10*time.Second, 9*time.Second); m != 250*time.Millisecond {
		t.Fatalf("margin for 10s/9s: %s", m)
	}
	for _, o := range []lease.Options{
		{Node: "a"},
		{Store: dirStore(t)},
		{Store: dirStore(t), Node: "a", TTL: time.Second, Heartbeat: 2 * time.Second},
		{Store: dirStore(t), Node: "a", Margin: 40 * time.Second},
	} {
		if _, err := lease.New(o); !errors.Is(err, lease.ErrInvalid) {
			t.Errorf("New(%+v): %v, want ErrInvalid", o, err)
		}
	}
	n := newNode(t, dirStore(t), "a", testutil.NewClock(t0))
	for _, bad := range [][2]string{{"", rule}, {kind, ".."}, {kind, "a/b"}, {kind, string(make([]byte, 65))}} {
		if _, err := n.Acquire(context.Background(), bad[0], bad[1], ""); !errors.Is(err, lease.ErrInvalid) {
			t.Errorf("acquire %q/%q: %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}
	if got := lease.Key(kind, rule); got != ".deltaglider/leases/replication/releases.json" {
		t.Fatalf("key %s", got)
	}
}

func TestDirStoreContract(t *testing.T) {
	storeContract(t, dirStore(t), lease.Key(kind, rule))
}
