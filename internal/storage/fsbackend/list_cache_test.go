package fsbackend

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// backdate sets the modification time of every directory under root an
// hour back, so the listing cache may keep them (it refuses directories
// changed within racyWindow of a read).
func backdate(t *testing.T, root string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cachedEntries counts the entries of the cached directories (held in
// memory or read from their index).
func cachedEntries(b *Backend) int {
	b.dirs.mu.Lock()
	defer b.dirs.mu.Unlock()
	n := 0
	for _, d := range b.dirs.dirs {
		n += d.list.Len()
	}
	return n
}

// sortedKeys returns the keys of set in byte order.
func sortedKeys(set map[string]bool) []string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkRandomListings pages through random listings (prefixes, delimiters,
// start-after markers, page sizes) and compares every page with the
// reference listing of keys.
func checkRandomListings(t *testing.T, b *Backend, bucket string, keys []string, r *rand.Rand, cases int) {
	t.Helper()
	delims := []string{"", "", "/", "-", "a", "é", "/a", "%", "日", "7"}
	for i := range cases {
		o := storage.ListOptions{Delimiter: delims[r.IntN(len(delims))], MaxKeys: 1 + r.IntN(300)}
		if r.IntN(4) == 0 {
			o.MaxKeys = 1
		}
		if r.IntN(3) > 0 {
			k := keys[r.IntN(len(keys))]
			o.Prefix = k[:r.IntN(len(k)+1)]
			if !utf8Valid(o.Prefix) {
				o.Prefix = ""
			}
		}
		if r.IntN(2) == 0 {
			o.Marker = keys[r.IntN(len(keys))]
			if r.IntN(2) == 0 {
				o.Marker = o.Marker[:r.IntN(len(o.Marker)+1)]
			}
		}
		for pageNo := 0; ; pageNo++ {
			got := list(t, b, bucket, o)
			want := referenceList(keys, o)
			if !equalPage(got, want) {
				t.Fatalf("case %d page %d %+v:\ngot  %v\nwant %v", i, pageNo, o, got, want)
			}
			if !got.Truncated {
				break
			}
			o.Marker = got.Next
		}
	}
}

// TestListObjectsCachedMatchesReference is the property test of listings
// served from the directory cache: random keys (unicode, escapes, '/',
// long and deep paths) plus two large directories, compared page by page
// with a sorted in-memory list, before and after random puts and deletes
// (which must invalidate what the cache holds).
func TestListObjectsCachedMatchesReference(t *testing.T) {
	b, _ := mustNew(t)
	b.noSync = true // durability is not the subject here
	mustBucket(t, b, "rnd")
	r := rand.New(rand.NewPCG(3, 17))
	set := map[string]bool{}
	put := func(k string) {
		if !set[k] {
			set[k] = true
			mustPut(t, b, "rnd", k, "x")
		}
	}
	for len(set) < 500 {
		put(randomKey(r))
	}
	// Two directories large enough to be cached: one flat, and the root.
	for range 2 * cacheMinEntries {
		put("big/k" + strconv.Itoa(r.IntN(100000)))
	}
	for range cacheMinEntries {
		put("r" + strconv.Itoa(r.IntN(100000)) + []string{"", "é", "/x", "-", "日"}[r.IntN(5)])
	}
	backdate(t, filepath.Join(b.Root(), "rnd"))
	keys := sortedKeys(set)
	checkRandomListings(t, b, "rnd", keys, r, 150)
	if cachedEntries(b) == 0 {
		t.Fatal("the listing cache holds nothing: the test does not exercise it")
	}

	// Change the cached directories; listings must show the changes.
	ctx := context.Background()
	for range 40 {
		k := keys[r.IntN(len(keys))]
		if set[k] {
			if _, err := b.DeleteObject(ctx, "rnd", k, storage.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			delete(set, k)
		}
		put("big/k" + strconv.Itoa(100000+r.IntN(1000)))
		put("r" + strconv.Itoa(100000+r.IntN(1000)))
	}
	keys = sortedKeys(set)
	checkRandomListings(t, b, "rnd", keys, r, 100)
}

// TestListCacheSeesChanges lists a cached directory, changes it, and lists
// it again: the change shows although the cache held the directory.
func TestListCacheSeesChanges(t *testing.T) {
	b, _ := mustNew(t)
	b.noSync = true
	mustBucket(t, b, "bkt")
	var keys []string
	for i := range cacheMinEntries + 10 {
		k := "d/" + strconv.Itoa(1000+i)
		keys = append(keys, k)
		mustPut(t, b, "bkt", k, "x")
	}
	backdate(t, filepath.Join(b.Root(), "bkt"))
	all := storage.ListOptions{Prefix: "d/", MaxKeys: 1000}
	if got := list(t, b, "bkt", all); !slices.Equal(got.Keys, keys) {
		t.Fatalf("listing: %v", got)
	}
	if cachedEntries(b) != len(keys) {
		t.Fatalf("cache holds %d entries, want %d", cachedEntries(b), len(keys))
	}
	mustPut(t, b, "bkt", "d/0", "x")
	if _, err := b.DeleteObject(context.Background(), "bkt", keys[5], storage.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := append([]string{"d/0"}, slices.Delete(slices.Clone(keys), 5, 6)...)
	if got := list(t, b, "bkt", all); !slices.Equal(got.Keys, want) {
		t.Fatalf("after changes: %v", got)
	}
	first := list(t, b, "bkt", storage.ListOptions{Prefix: "d/", MaxKeys: 1})
	if !slices.Equal(first.Keys, []string{"d/0"}) || !first.Truncated {
		t.Fatalf("MaxKeys=1 after changes: %v", first)
	}
}

// TestListCacheRefusesRecentDirectories: a directory whose mtime is not
// older than racyWindow is read, never cached (a change within the same
// timestamp tick could otherwise go unseen).
func TestListCacheRefusesRecentDirectories(t *testing.T) {
	b, _ := mustNew(t)
	b.noSync = true
	mustBucket(t, b, "bkt")
	for i := range cacheMinEntries + 1 {
		mustPut(t, b, "bkt", "d/"+strconv.Itoa(i), "x")
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(b.Root(), "bkt", "d"), future, future); err != nil {
		t.Fatal(err)
	}
	if got := list(t, b, "bkt", storage.ListOptions{Prefix: "d/", MaxKeys: 1000}); len(got.Keys) != cacheMinEntries+1 {
		t.Fatalf("listed %d keys, want %d", len(got.Keys), cacheMinEntries+1)
	}
	if n := cachedEntries(b); n != 0 {
		t.Fatalf("cache holds %d entries of a directory changed just now", n)
	}
}

// TestDirCacheBudget: the cache evicts the least recently used directories
// to stay within its budget.
func TestDirCacheBudget(t *testing.T) {
	c := newDirCache(10)
	get := func(p string, st dirStamp) *entList { l, _ := c.get(p, st); return l }
	ents := func(n int) *entList { return newEntList(make([]dirEnt, n)) }
	c.put("a", dirStamp{ino: 1}, ents(4))
	c.put("b", dirStamp{ino: 2}, ents(4))
	if get("a", dirStamp{ino: 1}) == nil {
		t.Fatal("a evicted early")
	}
	c.put("c", dirStamp{ino: 3}, ents(4)) // evicts b, the least recently used
	if get("b", dirStamp{ino: 2}) != nil || get("a", dirStamp{ino: 1}) == nil || get("c", dirStamp{ino: 3}) == nil {
		t.Fatal("wrong eviction")
	}
	if c.total != 8 {
		t.Fatalf("total %d, want 8", c.total)
	}
	if get("a", dirStamp{ino: 9}) != nil || c.total != 4 {
		t.Fatal("a stale stamp must drop the entry")
	}
	c.put("huge", dirStamp{}, ents(11))
	if get("huge", dirStamp{}) != nil {
		t.Fatal("an entry above the budget must not be cached")
	}
}

// TestListCacheVersionedBucket: in a versioned bucket whose large
// directory is cached, ListObjects shows the keys whose latest version is
// an object (not those behind a delete marker), before and after changes,
// and ListObjectVersions still lists every version.
func TestListCacheVersionedBucket(t *testing.T) {
	b, _ := mustNew(t)
	b.noSync = true
	ctx := context.Background()
	mustBucket(t, b, "ver")
	mustVersioning(t, b, "ver", storage.VersioningEnabled)
	var keys []string
	for i := range cacheMinEntries + 20 {
		k := "v/" + strconv.Itoa(1000+i)
		mustPut(t, b, "ver", k, "1")
		if i%3 == 0 {
			mustPut(t, b, "ver", k, "2") // a second version
		}
		if i%7 == 0 {
			if _, err := b.DeleteObject(ctx, "ver", k, storage.DeleteOptions{}); err != nil {
				t.Fatal(err) // a delete marker on top
			}
			continue
		}
		keys = append(keys, k)
	}
	backdate(t, filepath.Join(b.Root(), "ver"))
	all := storage.ListOptions{Prefix: "v/", MaxKeys: 1000}
	if got := list(t, b, "ver", all); !slices.Equal(got.Keys, keys) {
		t.Fatalf("listing: %v", got)
	}
	if cachedEntries(b) == 0 {
		t.Fatal("the versioned directory was not cached")
	}
	// A delete marker on a listed key, and a listed key restored.
	if _, err := b.DeleteObject(ctx, "ver", keys[3], storage.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, b, "ver", "v/1000", "3") // was behind a delete marker (i=0)
	want := append([]string{"v/1000"}, slices.Delete(slices.Clone(keys), 3, 4)...)
	if got := list(t, b, "ver", all); !slices.Equal(got.Keys, want) {
		t.Fatalf("after changes: %v", got)
	}
	vs, err := b.ListObjectVersions(ctx, "ver", storage.ListVersionsOptions{Prefix: "v/", MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// Versions: one per put, one per delete marker.
	puts := cacheMinEntries + 20 + (cacheMinEntries+20+2)/3 + 1
	markers := (cacheMinEntries+20+6)/7 + 1
	if len(vs.Versions) != puts+markers {
		t.Fatalf("%d versions listed, want %d", len(vs.Versions), puts+markers)
	}
}

// TestListCacheConcurrent lists a cached directory from several goroutines
// while others write to it (run with -race): every page is in order and
// holds only keys that were written, and the stable keys are always there.
func TestListCacheConcurrent(t *testing.T) {
	b, _ := mustNew(t)
	b.noSync = true
	mustBucket(t, b, "bkt")
	for i := range cacheMinEntries {
		mustPut(t, b, "bkt", "d/s"+strconv.Itoa(1000+i), "x")
	}
	backdate(t, filepath.Join(b.Root(), "bkt"))
	ctx := context.Background()
	writer := func(w int) func() error {
		return func() error {
			for i := range 60 {
				k := "d/w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				if _, err := b.PutObject(ctx, "bkt", k, strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
					return err
				}
				if i%2 == 0 {
					if _, err := b.DeleteObject(ctx, "bkt", k, storage.DeleteOptions{}); err != nil {
						return err
					}
				}
			}
			return nil
		}
	}
	lister := func() error {
		res, err := b.ListObjects(ctx, "bkt", storage.ListOptions{Prefix: "d/", MaxKeys: 1000})
		if err != nil {
			return err
		}
		if err := inOrder(res.Objects); err != nil {
			return err
		}
		stable := 0
		for _, o := range res.Objects {
			if strings.HasPrefix(o.Key, "d/s") {
				stable++
			}
		}
		if stable != cacheMinEntries {
			return fmt.Errorf("listed %d of the %d stable keys", stable, cacheMinEntries)
		}
		return nil
	}
	for _, err := range raceListers(3, lister, writer(0), writer(1)) {
		t.Error(err)
	}
	// Once quiet, the listing is exact.
	var want []string
	for i := range cacheMinEntries {
		want = append(want, "d/s"+strconv.Itoa(1000+i))
	}
	for w := range 2 {
		for i := 1; i < 60; i += 2 {
			want = append(want, "d/w"+strconv.Itoa(w)+"-"+strconv.Itoa(i))
		}
	}
	sort.Strings(want)
	got := list(t, b, "bkt", storage.ListOptions{Prefix: "d/", MaxKeys: 1000})
	if !slices.Equal(got.Keys, want) {
		t.Fatalf("final listing has %d keys, want %d", len(got.Keys), len(want))
	}
}
