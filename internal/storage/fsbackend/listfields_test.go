package fsbackend

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// listWhole lists bkt/d/ whole in pages of pageSize.
func listWhole(t *testing.T, b *Backend, pageSize int) []storage.ObjectInfo {
	t.Helper()
	out, err := listPages(b, pageSize)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// listPages is listWhole for goroutines other than the test's: it returns
// the error.
func listPages(b *Backend, pageSize int) ([]storage.ObjectInfo, error) {
	var out []storage.ObjectInfo
	o := storage.ListOptions{Prefix: "d/", MaxKeys: pageSize}
	for {
		res, err := b.ListObjects(context.Background(), "bkt", o)
		if err != nil {
			return nil, fmt.Errorf("ListObjects(%+v): %w", o, err)
		}
		out = append(out, res.Objects...)
		if !res.IsTruncated {
			return out, nil
		}
		o.Marker = res.NextMarker
	}
}

// checkListedAsHead lists bkt/d/ whole and requires each object, and
// only the keys of want, with what HEAD reports of it.
func checkListedAsHead(t *testing.T, b *Backend, want map[string]bool, pageSize int) {
	t.Helper()
	got := listWhole(t, b, pageSize)
	if len(got) != len(want) {
		t.Fatalf("listed %d objects, want %d", len(got), len(want))
	}
	for _, o := range got {
		if !want[o.Key] {
			t.Fatalf("listed %q, which does not exist", o.Key)
		}
		h, err := b.HeadObject(context.Background(), "bkt", o.Key, storage.GetOptions{})
		if err != nil {
			t.Fatalf("HEAD %q: %v", o.Key, err)
		}
		if o.Size != h.Size || o.ETag != h.ETag || !o.LastModified.Equal(h.LastModified) || o.StorageClass != "STANDARD" {
			t.Fatalf("%q listed as size %d, ETag %s, %v, %q; HEAD says size %d, ETag %s, %v",
				o.Key, o.Size, o.ETag, o.LastModified, o.StorageClass, h.Size, h.ETag, h.LastModified)
		}
	}
}

// countWithFields counts the entries of dir's cached list that carry fields.
func countWithFields(t *testing.T, b *Backend, dir string) int {
	t.Helper()
	l, _, ok := b.dirs.snapshot(dir)
	if !ok {
		t.Fatalf("%s is not cached", dir)
	}
	n := 0
	cur := newCursor(l)
	for i := range l.Len() {
		e, err := cur.at(i)
		if err != nil {
			t.Fatal(err)
		}
		if e.lf != nil {
			n++
		}
	}
	return n
}

// filledDir returns a backend whose bucket bkt holds n keys d/<1000+i>,
// each with data(i).
func filledDir(t *testing.T, n int, data func(i int) string) (*Backend, map[string]bool) {
	t.Helper()
	b, _ := mustNew(t)
	b.noSync = true
	mustBucket(t, b, "bkt")
	set := map[string]bool{}
	for i := range n {
		k := "d/" + strconv.Itoa(1000+i)
		mustPut(t, b, "bkt", k, data(i))
		set[k] = true
	}
	return b, set
}

// TestListingFieldsFollowWrites: a listing of a cached directory keeps
// the fields it read, the next listing and the persisted index use them,
// and every put over a key, delete and new key is seen, in memory and
// after restarts. Sizes change with every write, so a stale field shows.
func TestListingFieldsFollowWrites(t *testing.T) {
	b, clk := mustNew(t)
	b.noSync = true
	mustBucket(t, b, "bkt")
	r := rand.New(rand.NewPCG(17, 4))
	set := map[string]bool{}
	put := func(b *Backend, k string) {
		clk.Advance(time.Second)
		mustPut(t, b, "bkt", k, strings.Repeat("x", r.IntN(5000)))
		set[k] = true
	}
	for i := range 2*chunkSize + 300 {
		put(b, "d/"+strconv.Itoa(100000+i*2))
	}
	backdate(t, filepath.Join(b.Root(), "bkt"))
	checkListedAsHead(t, b, set, 1000)
	if n := countWithFields(t, b, "bkt/d"); n != len(set) {
		t.Fatalf("after a listing, %d entries carry fields, want %d", n, len(set))
	}
	write := func(b *Backend) {
		for range 40 {
			k := "d/" + strconv.Itoa(100000+r.IntN(2*(2*chunkSize+300)))
			if set[k] && r.IntN(4) == 0 {
				if _, err := b.DeleteObject(context.Background(), "bkt", k, storage.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
				delete(set, k)
				continue
			}
			put(b, k)
		}
	}
	for round := range 6 {
		write(b)
		checkListedAsHead(t, b, set, 1+r.IntN(1000))
		if round%2 == 1 {
			b = reopen(t, b)
			checkListedAsHead(t, b, set, 1000)
			if !fromIndex(b, "bkt/d") {
				t.Fatal("after a restart, bkt/d is not served from its index")
			}
			if n := countWithFields(t, b, "bkt/d"); n != len(set) {
				t.Fatalf("after a restart, %d entries carry fields, want %d", n, len(set))
			}
		}
	}
}

// TestListingFromFieldsReadsNoObjectFile: once a directory's fields are
// known, in memory or in its index after a restart, a listing reads no
// object file. Each file is then overwritten in place with garbage behind
// dgp's back (dgp never does that): a listing that read one would fail.
func TestListingFromFieldsReadsNoObjectFile(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run("restart="+strconv.FormatBool(restart), func(t *testing.T) {
			b, set := filledDir(t, cacheMinEntries+50, func(i int) string { return strings.Repeat("y", i) })
			backdate(t, filepath.Join(b.Root(), "bkt"))
			checkListedAsHead(t, b, set, 1000)
			want := listWhole(t, b, 1000)
			if restart {
				b = reopen(t, b)
			}
			dir := filepath.Join(b.Root(), "bkt", "d")
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			garbage := []byte("not an object file")
			for _, e := range ents {
				f, err := os.OpenFile(filepath.Join(dir, e.Name()), os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				_, werr := f.WriteAt(garbage, 0)
				terr := f.Truncate(int64(len(garbage)))
				if cerr := f.Close(); werr != nil || terr != nil || cerr != nil {
					t.Fatal(werr, terr, cerr)
				}
			}
			got := listWhole(t, b, 1000)
			if len(got) != len(want) {
				t.Fatalf("listed %d objects, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].Key != want[i].Key || got[i].Size != want[i].Size || got[i].ETag != want[i].ETag || !got[i].LastModified.Equal(want[i].LastModified) {
					t.Fatalf("listed %+v, want %+v", got[i], want[i])
				}
			}
		})
	}
}

// TestFillAgainstChanges plays a listing's fill against dgp's changes of
// the same directory in both orders, with and without a stamp that moves
// (coarse timestamps can leave it unchanged by a put over a key): a fill
// of what was read before a change never survives it.
func TestFillAgainstChanges(t *testing.T) {
	ents := decodeEntries([]string{"a%o", "b%o", "c%o"})
	st0, st1 := dirStamp{ino: 1, mtime: 10}, dirStamp{ino: 1, mtime: 20}
	stale := listFields{size: 1, etag: `"old"`, modified: time.Unix(100, 0)}
	fieldOf := func(c *dirCache, i int) *listFields {
		l, _, ok := c.snapshot("d")
		if !ok {
			t.Fatal("d dropped")
		}
		cur := newCursor(l)
		e, err := cur.at(i)
		if err != nil {
			t.Fatal(err)
		}
		return e.lf
	}
	for _, after := range []dirStamp{st1, st0} {
		// The change first: the fill, of the state before, is refused.
		c := newDirCache(1 << 20)
		ver := c.put("d", st0, newEntList(ents))
		c.apply("d", st0, after, "b%o", true)
		c.fill("d", ver, []fieldUpdate{{idx: 1, lf: stale}})
		if fieldOf(c, 1) != nil {
			t.Fatalf("stamp %v: a fill from before a put over b survived it", after)
		}

		// The fill first: the change clears what it says of b, not of a.
		c = newDirCache(1 << 20)
		ver = c.put("d", st0, newEntList(ents))
		c.fill("d", ver, []fieldUpdate{{idx: 0, lf: stale}, {idx: 1, lf: stale}})
		if fieldOf(c, 0) == nil || fieldOf(c, 1) == nil {
			t.Fatal("a fill of the current state was refused")
		}
		c.apply("d", st0, after, "b%o", true)
		if fieldOf(c, 1) != nil {
			t.Fatalf("stamp %v: b kept its fields through a put over it", after)
		}
		if f := fieldOf(c, 0); f == nil || f.size != 1 {
			t.Fatal("a lost its fields to a change of b")
		}
		// A second fill with the first's version is refused too.
		c.fill("d", ver, []fieldUpdate{{idx: 1, lf: stale}})
		if fieldOf(c, 1) != nil {
			t.Fatal("a fill with an old version was kept")
		}
	}

	// The index writer's swap for an equal list is a new state as well.
	c := newDirCache(1 << 20)
	l := newEntList(ents)
	ver := c.put("d", st0, l)
	if !c.swap("d", l, st0, newEntList(ents)) {
		t.Fatal("swap refused")
	}
	c.fill("d", ver, []fieldUpdate{{idx: 2, lf: stale}})
	if fieldOf(c, 2) != nil {
		t.Fatal("a fill from before a swap was kept")
	}
}

// TestDirIndexFields: the fields an index holds come back as written (the
// time with its zone), and an index of the earlier format is refused.
func TestDirIndexFields(t *testing.T) {
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var names []string
	for i := range 2*chunkSize + 10 {
		names = append(names, "k"+strconv.Itoa(100000+i)+"%o")
	}
	names = append(names, "sub", "k100005%v")
	ents := decodeEntries(names)
	zone := time.FixedZone("x", 5*3600+1800)
	for i := range ents {
		if ents[i].kind == kindObject && i%3 != 0 {
			ents[i].lf = &listFields{size: int64(i) << 40, etag: `"e` + strconv.Itoa(i) + `\"-2"`, modified: time.Unix(int64(i), int64(i)).In(zone)}
		}
	}
	st := dirStamp{dev: 1, ino: 2, mtime: 3, ctime: 4, size: 5}
	if err := writeIndex(root, "bkt/d", st, newEntList(ents)); err != nil {
		t.Fatal(err)
	}
	ix, err := openIndex(root, "bkt/d")
	if err != nil {
		t.Fatal(err)
	}
	cur := newCursor(indexEntList(ix))
	for i, want := range ents {
		got, err := cur.at(i)
		if err != nil {
			t.Fatal(err)
		}
		if !sameEnt(&got, &want) || (got.lf == nil) != (want.lf == nil) {
			t.Fatalf("entry %d: %+v, want %+v", i, got, want)
		}
		if want.lf != nil && (got.lf.size != want.lf.size || got.lf.etag != want.lf.etag || !got.lf.modified.Equal(want.lf.modified) ||
			got.lf.modified.Format(time.RFC3339Nano) != want.lf.modified.Format(time.RFC3339Nano)) {
			t.Fatalf("entry %d: fields %+v, want %+v", i, *got.lf, *want.lf)
		}
	}
	_ = ix.f.Close()

	// The same file under the earlier format's magic, checksums right.
	p := filepath.Join(root.Name(), indexFile("bkt/d"))
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	copy(raw, "dgpidx01")
	binary.LittleEndian.PutUint32(raw[indexHdrLen-4:], crc32.Checksum(raw[:indexHdrLen-4], crcTable))
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openIndex(root, "bkt/d"); err == nil {
		t.Fatal("an index of the earlier format was opened")
	}
}

// TestListingFieldsConcurrent: puts over keys (each changing the size)
// race listings that fill; once the writers are done, a listing reports
// of every key what HEAD does.
func TestListingFieldsConcurrent(t *testing.T) {
	b, set := filledDir(t, cacheMinEntries+100, func(int) string { return "x" })
	backdate(t, filepath.Join(b.Root(), "bkt"))
	ctx := context.Background()
	writer := func(w int) func() error {
		return func() error {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for range 300 {
				k := "d/" + strconv.Itoa(1000+r.IntN(cacheMinEntries+100))
				data := strings.Repeat("z", r.IntN(3000))
				if _, err := b.PutObject(ctx, "bkt", k, strings.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	lister := func() error {
		_, err := b.ListObjects(ctx, "bkt", storage.ListOptions{Prefix: "d/", MaxKeys: 1000})
		return err
	}
	if errs := raceListers(2, lister, writer(0), writer(1)); len(errs) > 0 {
		t.Fatal(errs)
	}
	checkListedAsHead(t, b, set, 1000)
	checkListedAsHead(t, b, set, 1000)
}

// TestListingFieldsNotKeptThroughSymlinks: an object file that is a
// symlink (planted by an operator) is read through it, and what it reads
// is not kept: its target can be replaced without the link's entry being
// touched.
func TestListingFieldsNotKeptThroughSymlinks(t *testing.T) {
	b, set := filledDir(t, cacheMinEntries+10, func(int) string { return "x" })
	if err := os.Symlink("1000%o", filepath.Join(b.Root(), "bkt", "d", "link%o")); err != nil {
		t.Fatal(err)
	}
	set["d/link"] = true
	backdate(t, filepath.Join(b.Root(), "bkt"))
	sizeOfLink := func() int64 {
		for _, o := range listWhole(t, b, 1000) {
			if o.Key == "d/link" {
				return o.Size
			}
		}
		t.Fatal("d/link not listed")
		return 0
	}
	if got := sizeOfLink(); got != 1 {
		t.Fatalf("d/link listed with size %d, want 1", got)
	}
	mustPut(t, b, "bkt", "d/1000", "much longer")
	if got := sizeOfLink(); got != 11 {
		t.Fatalf("d/link listed with size %d after its target changed, want 11", got)
	}
	if n := countWithFields(t, b, "bkt/d"); n != len(set)-1 {
		t.Fatalf("%d entries carry fields, want %d (all but the symlink)", n, len(set)-1)
	}
}
