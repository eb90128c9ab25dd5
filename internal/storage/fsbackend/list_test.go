package fsbackend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// page is a listing result reduced to what the tests compare.
type page struct {
	Keys      []string
	Prefixes  []string
	Truncated bool
	Next      string
}

func (p page) String() string {
	return fmt.Sprintf("keys=%q prefixes=%q truncated=%v next=%q", p.Keys, p.Prefixes, p.Truncated, p.Next)
}

func equalPage(a, b page) bool {
	return slices.Equal(a.Keys, b.Keys) && slices.Equal(a.Prefixes, b.Prefixes) &&
		a.Truncated == b.Truncated && a.Next == b.Next
}

func list(t *testing.T, b *Backend, bucket string, o storage.ListOptions) page {
	t.Helper()
	res, err := b.ListObjects(context.Background(), bucket, o)
	if err != nil {
		t.Fatalf("ListObjects(%+v): %v", o, err)
	}
	p := page{Prefixes: res.CommonPrefixes, Truncated: res.IsTruncated, Next: res.NextMarker}
	for _, obj := range res.Objects {
		p.Keys = append(p.Keys, obj.Key)
	}
	return p
}

// referenceList is S3's listing computed naively over a sorted key set:
// the specification the backend must match.
func referenceList(keys []string, o storage.ListOptions) page {
	var p page
	maxKeys := min(o.MaxKeys, 1000)
	if maxKeys <= 0 {
		return p
	}
	count, last := 0, ""
	seen := map[string]bool{}
	for _, k := range keys {
		if !strings.HasPrefix(k, o.Prefix) || k <= o.Marker {
			continue
		}
		name, isPrefix := k, false
		if o.Delimiter != "" {
			if i := strings.Index(k[len(o.Prefix):], o.Delimiter); i >= 0 {
				name, isPrefix = k[:len(o.Prefix)+i+len(o.Delimiter)], true
			}
		}
		if isPrefix && (seen[name] || name <= o.Marker) {
			continue
		}
		if count == maxKeys {
			p.Truncated, p.Next = true, last
			break
		}
		if isPrefix {
			seen[name] = true
			p.Prefixes = append(p.Prefixes, name)
		} else {
			p.Keys = append(p.Keys, k)
		}
		count, last = count+1, name
	}
	return p
}

var listKeys = []string{
	"a", "a/b", "a/c", "a/b/c", "a-b", "a.b", "a0",
	"dir/", "dir/file", "dir/sub/", "dir/sub/x",
	"photos/2024/01/cat.jpg", "photos/2024/02/dog.jpg", "photos/2023/fish.jpg", "photos/index.html",
	"spaces in name", "spaces/in dir/x y",
	"ünïcödé/日本/ファイル", "ünïcödé/é", "ünïcödé-x",
	"%", "%2F", ".hidden", "a//b", "a//", "z",
}

func seedList(t *testing.T) *Backend {
	t.Helper()
	b, _ := mustNew(t)
	mustBucket(t, b, "bkt")
	for _, k := range listKeys {
		mustPut(t, b, "bkt", k, "v:"+k)
	}
	return b
}

func TestListObjectsTable(t *testing.T) {
	b := seedList(t)
	sorted := slices.Clone(listKeys)
	sort.Strings(sorted)
	tests := []struct {
		name string
		o    storage.ListOptions
		want page
	}{
		{"all", storage.ListOptions{MaxKeys: 1000}, page{Keys: sorted}},
		{"max-keys 0", storage.ListOptions{MaxKeys: 0}, page{}},
		{"max-keys above 1000 clamps", storage.ListOptions{MaxKeys: 5000}, page{Keys: sorted}},
		{"root delimiter", storage.ListOptions{Delimiter: "/", MaxKeys: 1000}, page{
			Keys:     []string{"%", "%2F", ".hidden", "a", "a-b", "a.b", "a0", "spaces in name", "z", "ünïcödé-x"},
			Prefixes: []string{"a/", "dir/", "photos/", "spaces/", "ünïcödé/"},
		}},
		{"prefix dir/ delimiter", storage.ListOptions{Prefix: "dir/", Delimiter: "/", MaxKeys: 1000}, page{
			Keys: []string{"dir/", "dir/file"}, Prefixes: []string{"dir/sub/"},
		}},
		{"folder marker and contents", storage.ListOptions{Prefix: "dir/sub/", MaxKeys: 1000}, page{
			Keys: []string{"dir/sub/", "dir/sub/x"},
		}},
		{"partial segment prefix", storage.ListOptions{Prefix: "photos/202", Delimiter: "/", MaxKeys: 1000}, page{
			Prefixes: []string{"photos/2023/", "photos/2024/"},
		}},
		{"deep prefix", storage.ListOptions{Prefix: "photos/2024/", Delimiter: "/", MaxKeys: 1000}, page{
			Prefixes: []string{"photos/2024/01/", "photos/2024/02/"},
		}},
		{"object and prefix of same name", storage.ListOptions{Prefix: "a", Delimiter: "/", MaxKeys: 1000}, page{
			Keys: []string{"a", "a-b", "a.b", "a0"}, Prefixes: []string{"a/"},
		}},
		{"empty segments", storage.ListOptions{Prefix: "a/", Delimiter: "/", MaxKeys: 1000}, page{
			Keys: []string{"a/b", "a/c"}, Prefixes: []string{"a//", "a/b/"},
		}},
		{"non-slash delimiter", storage.ListOptions{Prefix: "a", Delimiter: "b", MaxKeys: 1000}, page{
			Keys: []string{"a", "a//", "a/c", "a0"}, Prefixes: []string{"a-b", "a.b", "a//b", "a/b"},
		}},
		{"multi-byte delimiter", storage.ListOptions{Prefix: "photos/", Delimiter: "/0", MaxKeys: 1000}, page{
			Keys:     []string{"photos/2023/fish.jpg", "photos/index.html"},
			Prefixes: []string{"photos/2024/0"},
		}},
		{"unicode prefix", storage.ListOptions{Prefix: "ünïcödé/", MaxKeys: 1000}, page{
			Keys: []string{"ünïcödé/é", "ünïcödé/日本/ファイル"},
		}},
		{"unicode delimiter", storage.ListOptions{Prefix: "ünïcödé", Delimiter: "日", MaxKeys: 1000}, page{
			Keys: []string{"ünïcödé-x", "ünïcödé/é"}, Prefixes: []string{"ünïcödé/日"},
		}},
		{"spaces", storage.ListOptions{Prefix: "spaces", Delimiter: "/", MaxKeys: 1000}, page{
			Keys: []string{"spaces in name"}, Prefixes: []string{"spaces/"},
		}},
		{"marker strictly after", storage.ListOptions{Marker: "a/b", Prefix: "a/", MaxKeys: 1000}, page{
			Keys: []string{"a/b/c", "a/c"},
		}},
		{"marker inside a common prefix skips it", storage.ListOptions{Marker: "a/b", Delimiter: "/", MaxKeys: 3}, page{
			Keys: []string{"a0"}, Prefixes: []string{"dir/", "photos/"}, Truncated: true, Next: "photos/",
		}},
		{"marker equal to a common prefix skips it", storage.ListOptions{Marker: "dir/", Delimiter: "/", MaxKeys: 2}, page{
			Prefixes: []string{"photos/"}, Keys: []string{"spaces in name"}, Truncated: true, Next: "spaces in name",
		}},
		{"marker before prefix", storage.ListOptions{Marker: "a", Prefix: "dir/", MaxKeys: 1000}, page{
			Keys: []string{"dir/", "dir/file", "dir/sub/", "dir/sub/x"},
		}},
		{"marker after prefix", storage.ListOptions{Marker: "e", Prefix: "dir/", MaxKeys: 1000}, page{}},
		{"truncated on a common prefix", storage.ListOptions{Delimiter: "/", MaxKeys: 7}, page{
			Keys: []string{"%", "%2F", ".hidden", "a", "a-b", "a.b"}, Prefixes: []string{"a/"}, Truncated: true, Next: "a/",
		}},
		{"exactly max-keys items is not truncated", storage.ListOptions{Prefix: "dir/", Delimiter: "/", MaxKeys: 3}, page{
			Keys: []string{"dir/", "dir/file"}, Prefixes: []string{"dir/sub/"},
		}},
		{"no match", storage.ListOptions{Prefix: "nope", MaxKeys: 1000}, page{}},
		{"prefix equals a key", storage.ListOptions{Prefix: "z", MaxKeys: 1000}, page{Keys: []string{"z"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := list(t, b, "bkt", tt.o)
			if !equalPage(got, tt.want) {
				t.Fatalf("got  %v\nwant %v", got, tt.want)
			}
			if ref := referenceList(sorted, tt.o); !equalPage(ref, tt.want) {
				t.Fatalf("reference disagrees with the table: %v", ref)
			}
		})
	}
}

func TestListObjectsErrors(t *testing.T) {
	b, _ := mustNew(t)
	_, err := b.ListObjects(context.Background(), "nope", storage.ListOptions{MaxKeys: 10})
	wantErr(t, err, s3err.ErrNoSuchBucket)
	_, err = b.ListObjects(context.Background(), "../x", storage.ListOptions{MaxKeys: 10})
	wantErr(t, err, s3err.ErrInvalidBucketName)
}

// TestListObjectsMatchesReference pages through random listings of random
// keys (long segments, escapes, empty segments, unicode) and compares every
// page with the reference.
func TestListObjectsMatchesReference(t *testing.T) {
	b, _ := mustNew(t)
	mustBucket(t, b, "rnd")
	r := rand.New(rand.NewPCG(7, 11))
	set := map[string]bool{}
	for len(set) < 400 {
		k := randomKey(r)
		if !set[k] {
			set[k] = true
			mustPut(t, b, "rnd", k, "x")
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	delims := []string{"", "/", "-", "a", "ab", "é", "/a", "%", "日"}
	for i := range 300 {
		o := storage.ListOptions{
			Delimiter: delims[r.IntN(len(delims))],
			MaxKeys:   1 + r.IntN(40),
		}
		if r.IntN(3) > 0 {
			k := keys[r.IntN(len(keys))]
			o.Prefix = k[:r.IntN(len(k)+1)]
			if !utf8Valid(o.Prefix) {
				o.Prefix = ""
			}
		}
		if r.IntN(3) == 0 {
			o.Marker = keys[r.IntN(len(keys))]
			if r.IntN(2) == 0 {
				o.Marker = o.Marker[:r.IntN(len(o.Marker)+1)]
			}
		}
		// Page through to the end, as a client would.
		for pageNo := 0; ; pageNo++ {
			got := list(t, b, "rnd", o)
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

func TestListObjectsEmptiedDirectories(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	mustPut(t, b, "bkt", "x/y/z", "1")
	mustPut(t, b, "bkt", "x/w", "1")
	if _, err := b.DeleteObject(ctx, "bkt", "x/y/z", storage.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A leftover empty directory (as after a crash) must not show up as a
	// common prefix.
	if err := b.root.MkdirAll("bkt/q/r", dirPerm); err != nil {
		t.Fatal(err)
	}
	got := list(t, b, "bkt", storage.ListOptions{Delimiter: "/", MaxKeys: 100})
	want := page{Prefixes: []string{"x/"}}
	if !equalPage(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	got = list(t, b, "bkt", storage.ListOptions{Prefix: "x/", Delimiter: "/", MaxKeys: 100})
	want = page{Keys: []string{"x/w"}}
	if !equalPage(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := b.root.Stat("bkt/x/y"); err == nil {
		t.Fatal("delete left the empty directory x/y behind")
	}
}

func TestListObjectsInfo(t *testing.T) {
	b, clk := mustNew(t)
	mustBucket(t, b, "bkt")
	clk.Advance(90 * 1e9)
	res := mustPut(t, b, "bkt", "k", "hello")
	out, err := b.ListObjects(context.Background(), "bkt", storage.ListOptions{MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Objects) != 1 {
		t.Fatalf("objects = %+v", out.Objects)
	}
	o := out.Objects[0]
	if o.Key != "k" || o.Size != 5 || o.ETag != res.ETag || !o.LastModified.Equal(clk.Now()) || o.StorageClass != "STANDARD" {
		t.Fatalf("object info = %+v", o)
	}
}

// TestListObjectsDeepKeys uses keys deeper than the walker's handle budget
// (maxHeldDirs) and segments longer than a file name.
func TestListObjectsDeepKeys(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	deep := strings.Repeat("d/", 300)
	keys := []string{
		deep + "x", deep + "y", deep + "y/", strings.Repeat("d/", 100) + "z",
		"a" + strings.Repeat("/", 500) + "b", "a" + strings.Repeat("/", 499),
		strings.Repeat("é", 500), strings.Repeat("é", 499) + "/x", strings.Repeat("%", 1000),
	}
	for _, k := range keys {
		mustPut(t, b, "bkt", k, k)
	}
	for _, k := range keys {
		if mustGet(t, b, "bkt", k) != k {
			t.Fatalf("GET %.20q differs", k)
		}
	}
	sorted := slices.Clone(keys)
	sort.Strings(sorted)
	opts := []storage.ListOptions{
		{MaxKeys: 1},
		{MaxKeys: 2, Delimiter: "/"},
		{MaxKeys: 1, Prefix: strings.Repeat("d/", 150)},
		{MaxKeys: 3, Prefix: strings.Repeat("d/", 150), Delimiter: "/"},
		{MaxKeys: 1, Prefix: deep},
		{MaxKeys: 1, Prefix: "a//"},
		{MaxKeys: 2, Prefix: strings.Repeat("é", 300), Delimiter: "/"},
		{MaxKeys: 1000, Marker: strings.Repeat("d/", 200)},
	}
	for _, o := range opts {
		for {
			got := list(t, b, "bkt", o)
			want := referenceList(sorted, o)
			if !equalPage(got, want) {
				t.Fatalf("%+v:\ngot  %v\nwant %v", o, got, want)
			}
			if !got.Truncated {
				break
			}
			o.Marker = got.Next
		}
	}
	for _, k := range keys {
		if _, err := b.DeleteObject(ctx, "bkt", k, storage.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if names, _ := b.readNames("bkt"); len(names) != 1 || names[0] != bucketMetaName {
		t.Fatalf("bucket directory after deleting everything: %q", names)
	}
}

// TestListObjectsSymlinkedObjectFile: an object file replaced by a symlink
// to another object file of its directory is listed as os.Root resolves it
// (the page's openat refuses symlinks and falls back to statObject).
func TestListObjectsSymlinkedObjectFile(t *testing.T) {
	root := t.TempDir()
	b, err := New("fs", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	mustBucket(t, b, "bkt")
	mustPut(t, b, "bkt", "a", "a")
	mustPut(t, b, "bkt", "b", "b")
	mustPut(t, b, "bkt", "z", "the data of z")
	file := func(key string) string {
		files, err := filepath.Glob(filepath.Join(root, "bkt", key+"%*"))
		if err != nil || len(files) != 1 {
			t.Fatalf("object file of %s: %v %v", key, files, err)
		}
		return files[0]
	}
	bFile, zFile := file("b"), file("z")
	if err := os.Remove(bFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Base(zFile), bFile); err != nil {
		t.Fatal(err)
	}
	out, err := b.ListObjects(context.Background(), "bkt", storage.ListOptions{MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range out.Objects {
		got = append(got, fmt.Sprintf("%s:%d", o.Key, o.Size))
	}
	if want := []string{"a:1", "b:13", "z:13"}; !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
}
