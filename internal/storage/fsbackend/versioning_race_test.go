package fsbackend

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// TestConcurrentVersionedKey hammers two keys of one directory with puts,
// deletes, version deletes, reads and versioning changes from several
// goroutines, then checks that each key's versions are consistent.
func TestConcurrentVersionedKey(t *testing.T) {
	b, _ := mustNew(t)
	b.noSync = true
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	mustVersioning(t, b, "bkt", storage.VersioningEnabled)
	keys := []string{"d/a", "d/b"}

	const workers, ops = 6, 80
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range ops {
				key := keys[rng.IntN(len(keys))]
				if err := hammerOnce(ctx, b, rng, g, key, fmt.Sprintf("w%d-%d", g, i)); err != nil {
					t.Errorf("worker %d op %d: %v", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, key := range keys {
		checkKeyConsistent(t, b, key)
	}
	assertStagingEmpty(t, b)
}

// hammerOnce does one random operation on key; only real failures are
// errors (a version deleted by another worker meanwhile is not).
func hammerOnce(ctx context.Context, b *Backend, rng *rand.Rand, g int, key, data string) error {
	switch n := rng.IntN(10); {
	case n < 3:
		_, err := b.PutObject(ctx, "bkt", key, strings.NewReader(data), int64(len(data)), storage.PutOptions{})
		return err
	case n < 5:
		_, err := b.DeleteObject(ctx, "bkt", key, storage.DeleteOptions{})
		return err
	case n < 7:
		res, err := b.ListObjectVersions(ctx, "bkt", storage.ListVersionsOptions{Prefix: key, MaxKeys: 1000})
		if err != nil || len(res.Versions) == 0 {
			return err
		}
		v := res.Versions[rng.IntN(len(res.Versions))]
		_, err = b.DeleteObject(ctx, "bkt", key, storage.DeleteOptions{VersionID: v.VersionID})
		return err
	case n < 9:
		obj, err := b.GetObject(ctx, "bkt", key, storage.GetOptions{})
		if errors.Is(err, s3err.ErrNoSuchKey) {
			return nil
		}
		if err != nil {
			return err
		}
		defer obj.Body.Close()
		if data := readAll(obj); int64(len(data)) != obj.ContentLength || !strings.HasPrefix(data, "w") {
			return fmt.Errorf("GET %q = %q", key, data)
		}
		return nil
	}
	if g != 0 {
		return nil
	}
	st := storage.VersioningEnabled
	if rng.IntN(2) == 0 {
		st = storage.VersioningSuspended
	}
	return b.PutBucketVersioning(ctx, "bkt", st)
}

func readAll(obj *storage.Object) string {
	var sb strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := obj.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

// checkKeyConsistent checks a key's versions after the dust settles.
func checkKeyConsistent(t *testing.T, b *Backend, key string) {
	t.Helper()
	rows := listVersions(t, b, "bkt", key, 7)
	ids := map[string]bool{}
	nulls := 0
	for i, r := range rows {
		if r.Key != key || ids[r.ID] || r.Latest != (i == 0) {
			t.Fatalf("%q: bad listing %+v", key, rows)
		}
		ids[r.ID] = true
		if r.ID == storage.NullVersion {
			nulls++
		}
		data, _, err := getVersion(t, b, "bkt", key, r.ID)
		switch {
		case r.Marker && !errors.Is(err, s3err.ErrMethodNotAllowed):
			t.Fatalf("%q: GET marker %s = %v", key, r.ID, err)
		case !r.Marker && (err != nil || !strings.HasPrefix(data, "w")):
			t.Fatalf("%q: GET version %s = %q, %v", key, r.ID, data, err)
		}
	}
	if nulls > 1 {
		t.Fatalf("%q: %d null versions: %+v", key, nulls, rows)
	}
	kf := keyFilesOf("bkt", key)
	_, err := b.root.Stat(kf.obj)
	latestObject := len(rows) > 0 && !rows[0].Marker
	if (err == nil) != latestObject {
		t.Fatalf("%q: object file %v, versions %+v", key, err, rows)
	}
	names, err := readNames(b.root, kf.vdir)
	if err != nil {
		t.Fatal(err)
	}
	want := len(rows)
	if latestObject {
		want--
	}
	if len(names) != want {
		t.Fatalf("%q: versions directory %q for versions %+v", key, names, rows)
	}
	if len(rows) == 0 {
		if _, err := b.root.Stat(kf.vdir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%q: versions directory left: %v", key, err)
		}
	}
	// The latest read without a version id is the listing's latest.
	data, info, err := getVersion(t, b, "bkt", key, "")
	switch {
	case len(rows) == 0 || rows[0].Marker:
		if !errors.Is(err, s3err.ErrNoSuchKey) {
			t.Fatalf("%q: GET = %v, want NoSuchKey", key, err)
		}
	case err != nil || info.VersionID != rows[0].ID || !strings.HasPrefix(data, "w"):
		t.Fatalf("%q: GET = %+v, %v; latest %+v", key, info, err, rows[0])
	}
}
