package fsbackend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// reopen closes b (which writes the pending directory indexes) and opens
// a new backend on its root, as a restart does.
func reopen(t *testing.T, b *Backend) *Backend {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	nb, err := New("fs", b.Root(), b.now)
	if err != nil {
		t.Fatal(err)
	}
	nb.noSync = b.noSync
	t.Cleanup(func() { _ = nb.Close() })
	return nb
}

// fromIndex reports whether the cached list of dir (relative to the root)
// is read from a persisted index.
func fromIndex(b *Backend, dir string) bool {
	l, _, ok := b.dirs.snapshot(dir)
	return ok && l.Len() > 0 && slices.ContainsFunc(l.chunks, func(c entChunk) bool { return c.ix != nil })
}

// TestListCacheKeptThroughWritesAndRestarts is the property test of the
// maintained cache and the persisted index: random keys, a directory of
// more than two chunks and a large bucket root, listed page by page against
// a sorted in-memory list while dgp puts and deletes keys (new and removed
// directories among them) between listings, and across restarts, with
// writes between them. dgp's own writes must keep the large directories
// cached, and after a restart they must be served from their index.
func TestListCacheKeptThroughWritesAndRestarts(t *testing.T) {
	b, _ := mustNew(t)
	b.noSync = true
	mustBucket(t, b, "rnd")
	r := rand.New(rand.NewPCG(5, 23))
	set := map[string]bool{}
	ctx := context.Background()
	put := func(b *Backend, k string) {
		if !set[k] {
			set[k] = true
			mustPut(t, b, "rnd", k, "x")
		}
	}
	del := func(b *Backend, k string) {
		if _, err := b.DeleteObject(ctx, "rnd", k, storage.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		delete(set, k)
	}
	for len(set) < 300 {
		put(b, randomKey(r))
	}
	for len(set) < 300+2*chunkSize+300 {
		put(b, "big/k"+strconv.Itoa(r.IntN(1000000)))
	}
	for range cacheMinEntries {
		put(b, "r"+strconv.Itoa(r.IntN(100000))+[]string{"", "é", "/x", "-", "日"}[r.IntN(5)])
	}
	backdate(t, filepath.Join(b.Root(), "rnd"))
	checkRandomListings(t, b, "rnd", sortedKeys(set), r, 25)
	for _, dir := range []string{"rnd", "rnd/big"} {
		if !b.dirs.has(dir) {
			t.Fatalf("%s not cached: the test does not exercise the cache", dir)
		}
	}

	for phase := range 3 {
		for op := range 120 {
			keys := sortedKeys(set)
			switch r.IntN(5) {
			case 0:
				del(b, keys[r.IntN(len(keys))])
			case 1:
				put(b, randomKey(r)) // may create directories in the root
			case 2:
				put(b, "big/k"+strconv.Itoa(r.IntN(1000000)))
			case 3:
				put(b, "r"+strconv.Itoa(r.IntN(100000))+[]string{"", "/y/z", "-"}[r.IntN(3)])
			default:
				if k := keys[r.IntN(len(keys))]; strings.HasPrefix(k, "big/") || !strings.Contains(k, "/") {
					del(b, k)
				}
			}
			if op%15 == 0 {
				checkRandomListings(t, b, "rnd", sortedKeys(set), r, 2)
			}
			for _, dir := range []string{"rnd", "rnd/big"} {
				if !b.dirs.has(dir) {
					t.Fatalf("phase %d op %d: dgp's own write dropped %s from the cache", phase, op, dir)
				}
			}
		}
		checkRandomListings(t, b, "rnd", sortedKeys(set), r, 12)

		b = reopen(t, b)
		if _, err := os.Stat(filepath.Join(b.Root(), indexDir, indexFile("rnd/big"))); err != nil {
			t.Fatalf("phase %d: no index after Close: %v", phase, err)
		}
		checkRandomListings(t, b, "rnd", sortedKeys(set), r, 12)
		for _, dir := range []string{"rnd", "rnd/big"} {
			if !fromIndex(b, dir) {
				t.Fatalf("phase %d: %s not served from its index after a restart", phase, dir)
			}
		}
	}
}

// bigDir fills bkt/d with n keys, lists it (so it is cached) and restarts
// the backend, so that its index is on disk; it returns the new backend
// and the keys.
func bigDir(t *testing.T, n int) (*Backend, []string) {
	t.Helper()
	b, _ := mustNew(t)
	b.noSync = true
	mustBucket(t, b, "bkt")
	var keys []string
	for i := range n {
		k := "d/" + strconv.Itoa(100000+i)
		keys = append(keys, k)
		mustPut(t, b, "bkt", k, "x")
	}
	backdate(t, filepath.Join(b.Root(), "bkt"))
	listAll(t, b, keys)
	return reopen(t, b), keys
}

// listAll lists bkt/d/ whole in pages of 1000 and compares with keys.
func listAll(t *testing.T, b *Backend, keys []string) {
	t.Helper()
	var got []string
	o := storage.ListOptions{Prefix: "d/", MaxKeys: 1000}
	for {
		p := list(t, b, "bkt", o)
		got = append(got, p.Keys...)
		if !p.Truncated {
			break
		}
		o.Marker = p.Next
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("listed %d keys, want %d (first difference near %v)", len(got), len(keys), firstDiff(got, keys))
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("#%d: %q vs %q", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
}

// TestDirIndexStaleAfterExternalChange: another program adds an object
// file to a directory whose index is on disk while dgp is stopped; the
// index no longer matches the directory's stamp and is not used.
func TestDirIndexStaleAfterExternalChange(t *testing.T) {
	b, keys := bigDir(t, cacheMinEntries+100)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(b.Root(), "bkt", "d")
	data, err := os.ReadFile(filepath.Join(dir, "100000%o"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "0%o"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	b2, err := New("fs", b.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b2.Close() })
	listAll(t, b2, append([]string{"d/0"}, keys...))
	if fromIndex(b2, "bkt/d") {
		t.Fatal("a stale index was used")
	}
}

// TestDirIndexCorruptIgnored: an index damaged in any part (header, chunk
// table, a chunk, truncated, another format version, another directory's)
// is never used for a listing: the directory is read instead.
func TestDirIndexCorruptIgnored(t *testing.T) {
	damage := map[string]func(t *testing.T, file string, data []byte) []byte{
		"header byte": func(_ *testing.T, _ string, d []byte) []byte { d[40] ^= 1; return d },
		"chunk byte":  func(_ *testing.T, _ string, d []byte) []byte { d[indexHdrLen+100] ^= 0x20; return d },
		"meta byte":   func(_ *testing.T, _ string, d []byte) []byte { d[len(d)-3] ^= 1; return d },
		"truncated":   func(_ *testing.T, _ string, d []byte) []byte { return d[:len(d)/2] },
		"empty":       func(_ *testing.T, _ string, d []byte) []byte { return nil },
		"version":     func(_ *testing.T, _ string, d []byte) []byte { d[7] = '9'; return d },
		"another directory's": func(t *testing.T, file string, d []byte) []byte {
			// The index of bkt/d, put where bkt/e's would be found.
			if err := os.WriteFile(filepath.Join(filepath.Dir(file), filepath.Base(indexFile("bkt/e"))), d, 0o644); err != nil {
				t.Fatal(err)
			}
			return d
		},
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			b, keys := bigDir(t, chunkSize+cacheMinEntries)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(b.Root(), indexDir, indexFile("bkt/d"))
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, f(t, file, data), 0o644); err != nil {
				t.Fatal(err)
			}
			b2, err := New("fs", b.Root(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b2.Close() })
			// A page from each chunk, then all of it.
			for _, marker := range []string{"", keys[chunkSize+10]} {
				p := list(t, b2, "bkt", storage.ListOptions{Prefix: "d/", Marker: marker, MaxKeys: 3})
				i := 0
				if marker != "" {
					i = chunkSize + 11
				}
				if !slices.Equal(p.Keys, keys[i:i+3]) {
					t.Fatalf("after %q: %v, want %v", marker, p.Keys, keys[i:i+3])
				}
			}
			listAll(t, b2, keys)
			if name == "another directory's" {
				if got := list(t, b2, "bkt", storage.ListOptions{Prefix: "e/", MaxKeys: 10}); len(got.Keys) != 0 {
					t.Fatalf("bkt/e listed from bkt/d's index: %v", got)
				}
				return
			}
			if name != "chunk byte" && fromIndex(b2, "bkt/d") {
				t.Fatal("a damaged index is in use")
			}
		})
	}
}

// TestDirIndexWritesBetweenRestarts: the index written at Close, changes
// by dgp after the next start (before and after a listing: the list is
// loaded from the index, then patched), and the index written again: each
// start lists exactly.
func TestDirIndexWritesBetweenRestarts(t *testing.T) {
	b, keys := bigDir(t, 2*chunkSize+10)
	ctx := context.Background()
	for round := range 3 {
		// A write before any listing since the start: the write loads
		// the index and changes the list, which stays served from it.
		add := "d/0" + strconv.Itoa(round)
		mustPut(t, b, "bkt", add, "x")
		keys = append([]string{add}, keys...)
		slices.Sort(keys)
		if !fromIndex(b, "bkt/d") {
			t.Fatalf("round %d: a write after the start did not load the index", round)
		}
		listAll(t, b, keys)
		rm := keys[len(keys)/2+round]
		if _, err := b.DeleteObject(ctx, "bkt", rm, storage.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		keys = slices.DeleteFunc(keys, func(k string) bool { return k == rm })
		listAll(t, b, keys)
		if !fromIndex(b, "bkt/d") {
			t.Fatalf("round %d: not served from the index", round)
		}
		// The index writer writes the changed list, and the cache then
		// reads it from the new index.
		b.dirs.ix.flush(true)
		if !fromIndex(b, "bkt/d") {
			t.Fatalf("round %d: not read from the index just written", round)
		}
		listAll(t, b, keys)
		b = reopen(t, b)
	}
	listAll(t, b, keys)
}

// TestDirIndexConcurrent (run with -race): writers, listers and the index
// writer flushing on the same cached directory; every page is in order,
// and once quiet the listing is exact, before and after a restart.
func TestDirIndexConcurrent(t *testing.T) {
	b, keys := bigDir(t, cacheMinEntries+50)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	done := make(chan struct{})
	var mu sync.Mutex
	final := map[string]bool{}
	for _, k := range keys {
		final[k] = true
	}
	for w := range 3 {
		wg.Go(func() {
			for i := range 40 {
				k := fmt.Sprintf("d/w%d-%02d", w, i)
				if _, err := b.PutObject(ctx, "bkt", k, strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
					errs <- err
					return
				}
				keep := i%3 != 0
				if !keep {
					if _, err := b.DeleteObject(ctx, "bkt", k, storage.DeleteOptions{}); err != nil {
						errs <- err
						return
					}
				}
				mu.Lock()
				final[k] = keep
				mu.Unlock()
			}
		})
	}
	var bg sync.WaitGroup
	bg.Go(func() {
		untilDone(done, errs, func() error { b.dirs.ix.flush(true); return nil })
	})
	for range 2 {
		bg.Go(func() {
			untilDone(done, errs, func() error {
				res, err := b.ListObjects(ctx, "bkt", storage.ListOptions{Prefix: "d/", MaxKeys: 1000})
				if err != nil {
					return err
				}
				return inOrder(res.Objects)
			})
		})
	}
	wg.Wait()
	close(done)
	bg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var want []string
	for k, ok := range final {
		if ok {
			want = append(want, k)
		}
	}
	slices.Sort(want)
	listAll(t, b, want)
	b = reopen(t, b)
	listAll(t, b, want)
}

// TestEntListWith: random insertions and removals on a list (materialized,
// or read from an index) keep it equal to a sorted slice, across chunk
// splits and emptied chunks, and leave the lists they were made from as
// they were.
func TestEntListWith(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	ixRoot, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ixRoot.Close()
	name := func() string { return "k" + strconv.Itoa(r.IntN(20000)) + suffixObject }
	var ref []dirEnt
	for range 3000 {
		e, _ := entOf(name())
		ref = append(ref, e)
	}
	ref = decodeEntries(func() []string {
		var ns []string
		for _, e := range ref {
			ns = append(ns, e.name)
		}
		return slices.Compact(slices.Sorted(slices.Values(ns)))
	}())
	for _, fromIx := range []bool{false, true} {
		l := newEntList(slices.Clone(ref))
		want := slices.Clone(ref)
		if fromIx {
			if err := writeIndex(ixRoot, "b/d", dirStamp{ino: 7}, l); err != nil {
				t.Fatal(err)
			}
			ix, err := openIndex(ixRoot, "b/d")
			if err != nil {
				t.Fatal(err)
			}
			l = indexEntList(ix)
		}
		for step := range 4000 {
			e, _ := entOf(name())
			present := r.IntN(3) > 0
			if step > 2500 {
				present = r.IntN(4) == 0 // shrink: empties chunks
			}
			prev, prevWant := l, slices.Clone(want)
			nl, err := l.with(e, present)
			if err != nil {
				t.Fatal(err)
			}
			i, found := slices.BinarySearchFunc(want, e, func(a, b dirEnt) int { return cmpEnt(&a, &b) })
			switch {
			case present && !found:
				want = slices.Insert(want, i, e)
			case !present && found:
				want = slices.Delete(want, i, i+1)
			}
			l = nl
			if step%97 == 0 || step == 3999 {
				checkList(t, l, want)
				checkList(t, prev, prevWant)
			}
		}
	}
}

func checkList(t *testing.T, l *entList, want []dirEnt) {
	t.Helper()
	if l.Len() != len(want) {
		t.Fatalf("list has %d entries, want %d", l.Len(), len(want))
	}
	c := newCursor(l)
	for i := range want {
		e, err := c.at(i)
		if err != nil {
			t.Fatal(err)
		}
		if e != want[i] {
			t.Fatalf("entry %d: %q, want %q", i, e.name, want[i].name)
		}
	}
	for range 50 {
		if len(want) == 0 {
			break
		}
		x := want[rand.IntN(len(want))]
		from := rand.IntN(len(want))
		got, err := c.search(from, func(e *dirEnt) bool { return cmpEnt(e, &x) >= 0 })
		if err != nil {
			t.Fatal(err)
		}
		w := from + searchEnts(want[from:], x)
		if got != w {
			t.Fatalf("search from %d for %q: %d, want %d", from, x.name, got, w)
		}
	}
}

func searchEnts(ents []dirEnt, x dirEnt) int {
	i, _ := slices.BinarySearchFunc(ents, x, func(a, b dirEnt) int { return cmpEnt(&a, &b) })
	return i
}

// TestOldDataDirWithoutIndex: a data directory from before the index (no
// <root>/.index at all) opens and lists as before; its large directory is
// indexed at Close and served from the index after the next start.
func TestOldDataDirWithoutIndex(t *testing.T) {
	b, keys := bigDir(t, cacheMinEntries+20)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(b.Root(), indexDir)); err != nil {
		t.Fatal(err)
	}
	b2, err := New("fs", b.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b2.Close() })
	listAll(t, b2, keys)
	if fromIndex(b2, "bkt/d") {
		t.Fatal("served from an index that does not exist")
	}
	b3 := reopen(t, b2)
	listAll(t, b3, keys)
	if !fromIndex(b3, "bkt/d") {
		t.Fatal("not indexed after a start and Close")
	}
}
