package fsbackend

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// mustVersioning sets a bucket's versioning state.
func mustVersioning(tb testing.TB, b *Backend, bucket string, s storage.VersioningStatus) {
	tb.Helper()
	if err := b.PutBucketVersioning(context.Background(), bucket, s); err != nil {
		tb.Fatalf("PutBucketVersioning(%q, %q): %v", bucket, s, err)
	}
}

// mustDelete deletes key (or one version of it).
func mustDelete(tb testing.TB, b *Backend, bucket, key, versionID string) *storage.DeleteResult {
	tb.Helper()
	res, err := b.DeleteObject(context.Background(), bucket, key, storage.DeleteOptions{VersionID: versionID})
	if err != nil {
		tb.Fatalf("DeleteObject(%q, %q): %v", key, versionID, err)
	}
	return res
}

// getVersion reads one version of key.
func getVersion(tb testing.TB, b *Backend, bucket, key, versionID string) (string, *storage.ObjectInfo, error) {
	tb.Helper()
	obj, err := b.GetObject(context.Background(), bucket, key, storage.GetOptions{VersionID: versionID})
	if err != nil {
		return "", nil, err
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		tb.Fatalf("read %q: %v", key, err)
	}
	return string(data), &obj.Info, nil
}

// versionRow is a version listing entry reduced to what tests compare.
type versionRow struct {
	Key, ID  string
	Latest   bool
	Marker   bool
	ETagSeen bool
}

// listVersions returns every version of the bucket (paged with pageSize).
func listVersions(tb testing.TB, b *Backend, bucket, prefix string, pageSize int) []versionRow {
	tb.Helper()
	var out []versionRow
	opts := storage.ListVersionsOptions{Prefix: prefix, MaxKeys: pageSize}
	for range 10000 {
		res, err := b.ListObjectVersions(context.Background(), bucket, opts)
		if err != nil {
			tb.Fatalf("ListObjectVersions(%+v): %v", opts, err)
		}
		for _, v := range res.Versions {
			out = append(out, versionRow{Key: v.Key, ID: v.VersionID, Latest: v.IsLatest, Marker: v.DeleteMarker, ETagSeen: v.ETag != ""})
		}
		if !res.IsTruncated {
			return out
		}
		opts.KeyMarker, opts.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
	}
	tb.Fatal("listing does not end")
	return nil
}

// errHeader returns the value of a response header attached to err.
func errHeader(err error, name string) string {
	var e *s3err.Error
	if !errors.As(err, &e) {
		return ""
	}
	for _, h := range e.Headers {
		if h[0] == name {
			return h[1]
		}
	}
	return ""
}

func TestBucketVersioningState(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	st, err := b.GetBucketVersioning(ctx, "bkt")
	if err != nil || st != storage.VersioningOff {
		t.Fatalf("new bucket versioning = %q, %v", st, err)
	}
	wantErr(t, b.PutBucketVersioning(ctx, "bkt", "Bogus"), s3err.ErrMalformedXML)
	wantErr(t, b.PutBucketVersioning(ctx, "nobkt", storage.VersioningEnabled), s3err.ErrNoSuchBucket)
	_, err = b.GetBucketVersioning(ctx, "nobkt")
	wantErr(t, err, s3err.ErrNoSuchBucket)
	for _, s := range []storage.VersioningStatus{storage.VersioningSuspended, storage.VersioningEnabled, storage.VersioningSuspended} {
		mustVersioning(t, b, "bkt", s)
		if got, _ := b.GetBucketVersioning(ctx, "bkt"); got != s {
			t.Fatalf("versioning = %q, want %q", got, s)
		}
	}
	// The state survives a restart (it is in the bucket metadata file).
	b2, err := New("fs2", b.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if got, _ := b2.GetBucketVersioning(ctx, "bkt"); got != storage.VersioningSuspended {
		t.Fatalf("versioning after reopen = %q", got)
	}
	// Creation time is kept across metadata rewrites.
	bs, err := b2.ListBuckets(ctx)
	if err != nil || len(bs) != 1 || !bs[0].Created.Equal(testEpoch) {
		t.Fatalf("ListBuckets = %+v, %v", bs, err)
	}
	assertStagingEmpty(t, b)
}

func TestVersioningEnabledLifecycle(t *testing.T) {
	b, clk := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	mustVersioning(t, b, "bkt", storage.VersioningEnabled)

	v1 := mustPut(t, b, "bkt", "dir/k", "one").VersionID
	v2 := mustPut(t, b, "bkt", "dir/k", "two").VersionID
	if !validVersionID(v1) || !validVersionID(v2) || v1 == v2 || v1 == storage.NullVersion {
		t.Fatalf("version ids %q, %q", v1, v2)
	}
	if got := mustGet(t, b, "bkt", "dir/k"); got != "two" {
		t.Fatalf("latest = %q", got)
	}
	for id, want := range map[string]string{v1: "one", v2: "two"} {
		data, info, err := getVersion(t, b, "bkt", "dir/k", id)
		if err != nil || data != want || info.VersionID != id {
			t.Fatalf("GET version %s = %q, %+v, %v", id, data, info, err)
		}
		hi, err := b.HeadObject(ctx, "bkt", "dir/k", storage.GetOptions{VersionID: id})
		if err != nil || hi.VersionID != id || hi.Size != int64(len(want)) {
			t.Fatalf("HEAD version %s = %+v, %v", id, hi, err)
		}
	}
	_, _, err := getVersion(t, b, "bkt", "dir/k", "nope")
	wantErr(t, err, s3err.ErrInvalidArgument)
	_, _, err = getVersion(t, b, "bkt", "dir/k", strings.Repeat("0", 32))
	wantErr(t, err, s3err.ErrNoSuchVersion)
	_, _, err = getVersion(t, b, "bkt", "dir/k", storage.NullVersion)
	wantErr(t, err, s3err.ErrNoSuchVersion)

	clk.Advance(1)
	del := mustDelete(t, b, "bkt", "dir/k", "")
	if !del.DeleteMarker || !validVersionID(del.VersionID) || del.VersionID == v2 {
		t.Fatalf("delete = %+v", del)
	}
	_, _, err = getVersion(t, b, "bkt", "dir/k", "")
	wantErr(t, err, s3err.ErrNoSuchKey)
	if errHeader(err, "x-amz-delete-marker") != "true" || errHeader(err, "x-amz-version-id") != del.VersionID {
		t.Fatalf("NoSuchKey headers of a delete marker: %v", err)
	}
	_, err = b.HeadObject(ctx, "bkt", "dir/k", storage.GetOptions{})
	wantErr(t, err, s3err.ErrNoSuchKey)
	_, _, err = getVersion(t, b, "bkt", "dir/k", del.VersionID)
	wantErr(t, err, s3err.ErrMethodNotAllowed)
	if errHeader(err, "x-amz-delete-marker") != "true" || errHeader(err, "x-amz-version-id") != del.VersionID || errHeader(err, "Last-Modified") == "" {
		t.Fatalf("MethodNotAllowed headers: %v", err)
	}
	// The key is gone from ListObjects, even its directory.
	l, err := b.ListObjects(ctx, "bkt", storage.ListOptions{MaxKeys: 10, Delimiter: "/"})
	if err != nil || len(l.Objects) != 0 || len(l.CommonPrefixes) != 0 {
		t.Fatalf("ListObjects = %+v, %v", l, err)
	}
	lv, err := b.ListObjectVersions(ctx, "bkt", storage.ListVersionsOptions{MaxKeys: 10, Delimiter: "/"})
	if err != nil || !slices.Equal(lv.CommonPrefixes, []string{"dir/"}) || len(lv.Versions) != 0 {
		t.Fatalf("ListObjectVersions with delimiter = %+v, %v", lv, err)
	}
	want := []versionRow{
		{Key: "dir/k", ID: del.VersionID, Latest: true, Marker: true},
		{Key: "dir/k", ID: v2, ETagSeen: true},
		{Key: "dir/k", ID: v1, ETagSeen: true},
	}
	if got := listVersions(t, b, "bkt", "", 10); !slices.Equal(got, want) {
		t.Fatalf("versions = %+v, want %+v", got, want)
	}
	// A bucket holding only versions is not empty.
	wantErr(t, b.DeleteBucket(ctx, "bkt"), s3err.ErrBucketNotEmpty)

	// Removing the marker makes v2 the latest again.
	if res := mustDelete(t, b, "bkt", "dir/k", del.VersionID); !res.DeleteMarker || res.VersionID != del.VersionID {
		t.Fatalf("delete marker by id = %+v", res)
	}
	if got := mustGet(t, b, "bkt", "dir/k"); got != "two" {
		t.Fatalf("latest after removing marker = %q", got)
	}
	// Removing the latest version makes the previous one the latest.
	if res := mustDelete(t, b, "bkt", "dir/k", v2); res.DeleteMarker || res.VersionID != v2 {
		t.Fatalf("delete v2 = %+v", res)
	}
	if got := mustGet(t, b, "bkt", "dir/k"); got != "one" {
		t.Fatalf("latest after removing v2 = %q", got)
	}
	// Deleting a version that is not there (or cannot be) is not an error.
	mustDelete(t, b, "bkt", "dir/k", v2)
	if res := mustDelete(t, b, "bkt", "dir/k", "no-such-id"); res.VersionID != "no-such-id" || res.DeleteMarker {
		t.Fatalf("delete of a malformed version id = %+v", res)
	}
	mustDelete(t, b, "bkt", "dir/k", v1)
	_, _, err = getVersion(t, b, "bkt", "dir/k", "")
	wantErr(t, err, s3err.ErrNoSuchKey)
	if errHeader(err, "x-amz-delete-marker") != "" {
		t.Fatalf("NoSuchKey of a missing key has marker headers: %v", err)
	}
	if got := listVersions(t, b, "bkt", "", 10); len(got) != 0 {
		t.Fatalf("versions left: %+v", got)
	}
	// Nothing is left on disk: not even the directories.
	if _, err := b.root.Stat("bkt/dir"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("bkt/dir left behind: %v", err)
	}
	wantErr(t, b.DeleteBucket(ctx, "bkt"), nil)
	assertStagingEmpty(t, b)
}

func TestVersioningNullVersion(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	if res := mustPut(t, b, "bkt", "k", "pre"); res.VersionID != "" {
		t.Fatalf("unversioned put VersionID = %q", res.VersionID)
	}
	_, info, err := getVersion(t, b, "bkt", "k", "")
	if err != nil || info.VersionID != "" {
		t.Fatalf("unversioned GET = %+v, %v", info, err)
	}
	// Unversioned: one "null" version per object; versionId=null reads it.
	if got := listVersions(t, b, "bkt", "", 10); !slices.Equal(got, []versionRow{{Key: "k", ID: "null", Latest: true, ETagSeen: true}}) {
		t.Fatalf("unversioned versions = %+v", got)
	}
	if data, _, err := getVersion(t, b, "bkt", "k", storage.NullVersion); err != nil || data != "pre" {
		t.Fatalf("GET null in unversioned bucket = %q, %v", data, err)
	}
	if res := mustDelete(t, b, "bkt", "k", ""); res.DeleteMarker || res.VersionID != "" {
		t.Fatalf("unversioned delete = %+v", res)
	}
	mustPut(t, b, "bkt", "k", "pre")

	mustVersioning(t, b, "bkt", storage.VersioningEnabled)
	if _, info, err := getVersion(t, b, "bkt", "k", ""); err != nil || info.VersionID != storage.NullVersion {
		t.Fatalf("pre-versioning object after enabling = %+v, %v", info, err)
	}
	v1 := mustPut(t, b, "bkt", "k", "v1").VersionID
	if data, _, err := getVersion(t, b, "bkt", "k", storage.NullVersion); err != nil || data != "pre" {
		t.Fatalf("GET null = %q, %v", data, err)
	}

	mustVersioning(t, b, "bkt", storage.VersioningSuspended)
	if res := mustPut(t, b, "bkt", "k", "s1"); res.VersionID != storage.NullVersion {
		t.Fatalf("suspended put VersionID = %q", res.VersionID)
	}
	// The old null version ("pre") was replaced; v1 is kept.
	want := []versionRow{{Key: "k", ID: "null", Latest: true, ETagSeen: true}, {Key: "k", ID: v1, ETagSeen: true}}
	if got := listVersions(t, b, "bkt", "", 10); !slices.Equal(got, want) {
		t.Fatalf("versions = %+v, want %+v", got, want)
	}
	mustPut(t, b, "bkt", "k", "s2")
	if got := listVersions(t, b, "bkt", "", 10); !slices.Equal(got, want) {
		t.Fatalf("versions after second suspended put = %+v, want %+v", got, want)
	}
	if got := mustGet(t, b, "bkt", "k"); got != "s2" {
		t.Fatalf("latest = %q", got)
	}
	// A suspended delete replaces the null version with a null marker.
	if res := mustDelete(t, b, "bkt", "k", ""); !res.DeleteMarker || res.VersionID != storage.NullVersion {
		t.Fatalf("suspended delete = %+v", res)
	}
	want = []versionRow{{Key: "k", ID: "null", Latest: true, Marker: true}, {Key: "k", ID: v1, ETagSeen: true}}
	if got := listVersions(t, b, "bkt", "", 10); !slices.Equal(got, want) {
		t.Fatalf("versions after suspended delete = %+v, want %+v", got, want)
	}
	// Enabled again: a new version goes on top; the null marker stays.
	mustVersioning(t, b, "bkt", storage.VersioningEnabled)
	v3 := mustPut(t, b, "bkt", "k", "v3").VersionID
	want = []versionRow{{Key: "k", ID: v3, Latest: true, ETagSeen: true}, {Key: "k", ID: "null", Marker: true}, {Key: "k", ID: v1, ETagSeen: true}}
	if got := listVersions(t, b, "bkt", "", 10); !slices.Equal(got, want) {
		t.Fatalf("versions after re-enabling = %+v, want %+v", got, want)
	}
	// Suspended put with a non-null latest: it is kept, the null marker replaced.
	mustVersioning(t, b, "bkt", storage.VersioningSuspended)
	mustPut(t, b, "bkt", "k", "s3")
	want = []versionRow{{Key: "k", ID: "null", Latest: true, ETagSeen: true}, {Key: "k", ID: v3, ETagSeen: true}, {Key: "k", ID: v1, ETagSeen: true}}
	if got := listVersions(t, b, "bkt", "", 10); !slices.Equal(got, want) {
		t.Fatalf("versions after suspended put = %+v, want %+v", got, want)
	}
	_ = ctx
}

func TestListObjectVersionsMarkers(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	mustVersioning(t, b, "bkt", storage.VersioningEnabled)
	ids := map[string][]string{}
	for _, k := range []string{"a", "b", "c"} {
		for range 3 {
			ids[k] = append([]string{mustPut(t, b, "bkt", k, k).VersionID}, ids[k]...)
		}
	}
	// Key marker alone: after every version of that key.
	res, err := b.ListObjectVersions(ctx, "bkt", storage.ListVersionsOptions{KeyMarker: "a", MaxKeys: 100})
	if err != nil || len(res.Versions) != 6 || res.Versions[0].Key != "b" || res.IsTruncated {
		t.Fatalf("key-marker a = %+v, %v", res, err)
	}
	// Key and version marker: after that version of that key.
	res, err = b.ListObjectVersions(ctx, "bkt", storage.ListVersionsOptions{KeyMarker: "a", VersionIDMarker: ids["a"][0], MaxKeys: 3})
	if err != nil || len(res.Versions) != 3 || res.Versions[0].VersionID != ids["a"][1] || res.Versions[2].VersionID != ids["b"][0] ||
		!res.IsTruncated || res.NextKeyMarker != "b" || res.NextVersionIDMarker != ids["b"][0] {
		t.Fatalf("key-marker a + version marker = %+v, %v", res, err)
	}
	if res.Versions[0].IsLatest || !res.Versions[2].IsLatest {
		t.Fatalf("IsLatest flags: %+v", res.Versions)
	}
	// max-keys 0: empty and not truncated.
	res, err = b.ListObjectVersions(ctx, "bkt", storage.ListVersionsOptions{})
	if err != nil || len(res.Versions) != 0 || res.IsTruncated {
		t.Fatalf("max-keys 0 = %+v, %v", res, err)
	}
	_, err = b.ListObjectVersions(ctx, "bkt", storage.ListVersionsOptions{VersionIDMarker: ids["a"][0], MaxKeys: 1})
	wantErr(t, err, s3err.ErrInvalidArgument)
	_, err = b.ListObjectVersions(ctx, "bkt", storage.ListVersionsOptions{KeyMarker: "a", VersionIDMarker: "bad", MaxKeys: 1})
	wantErr(t, err, s3err.ErrInvalidArgument)
	_, err = b.ListObjectVersions(ctx, "nobkt", storage.ListVersionsOptions{MaxKeys: 1})
	wantErr(t, err, s3err.ErrNoSuchBucket)
}

func TestVersionedCopyAndMultipart(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	mustBucket(t, b, "plain")
	mustPut(t, b, "plain", "p", "plain")
	mustVersioning(t, b, "bkt", storage.VersioningEnabled)
	v1 := mustPut(t, b, "bkt", "src", "first").VersionID
	mustPut(t, b, "bkt", "src", "second")

	res, err := b.CopyObject(ctx, storage.ObjectRef{Bucket: "bkt", Key: "src", VersionID: v1}, storage.ObjectRef{Bucket: "bkt", Key: "dst"}, storage.CopyOptions{})
	if err != nil || res.SourceVersionID != v1 || !validVersionID(res.VersionID) || res.VersionID == v1 {
		t.Fatalf("copy of a version = %+v, %v", res, err)
	}
	if got := mustGet(t, b, "bkt", "dst"); got != "first" {
		t.Fatalf("copied data = %q", got)
	}
	// Restoring an old version onto its own key is a copy like any other.
	res, err = b.CopyObject(ctx, storage.ObjectRef{Bucket: "bkt", Key: "src", VersionID: v1}, storage.ObjectRef{Bucket: "bkt", Key: "src"}, storage.CopyOptions{})
	if err != nil || mustGet(t, b, "bkt", "src") != "first" {
		t.Fatalf("restore copy = %+v, %v", res, err)
	}
	// From an unversioned bucket: no source version id.
	res, err = b.CopyObject(ctx, storage.ObjectRef{Bucket: "plain", Key: "p"}, storage.ObjectRef{Bucket: "bkt", Key: "p"}, storage.CopyOptions{})
	if err != nil || res.SourceVersionID != "" || res.VersionID == "" {
		t.Fatalf("copy from unversioned = %+v, %v", res, err)
	}
	// A delete marker cannot be a copy source.
	mk := mustDelete(t, b, "bkt", "src", "")
	_, err = b.CopyObject(ctx, storage.ObjectRef{Bucket: "bkt", Key: "src", VersionID: mk.VersionID}, storage.ObjectRef{Bucket: "bkt", Key: "x"}, storage.CopyOptions{})
	wantErr(t, err, s3err.ErrInvalidRequest)
	_, err = b.CopyObject(ctx, storage.ObjectRef{Bucket: "bkt", Key: "src"}, storage.ObjectRef{Bucket: "bkt", Key: "x"}, storage.CopyOptions{})
	wantErr(t, err, s3err.ErrNoSuchKey)

	id, err := b.CreateMultipartUpload(ctx, "bkt", "mp", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := b.UploadPartCopy(ctx, storage.ObjectRef{Bucket: "bkt", Key: "src", VersionID: v1}, "bkt", "mp", id, 1, storage.CopyPartOptions{})
	if err != nil || cp.SourceVersionID != v1 {
		t.Fatalf("UploadPartCopy of a version = %+v, %v", cp, err)
	}
	done, err := b.CompleteMultipartUpload(ctx, "bkt", "mp", id, []storage.CompletedPart{{PartNumber: 1, ETag: cp.ETag}})
	if err != nil || !validVersionID(done.VersionID) {
		t.Fatalf("complete = %+v, %v", done, err)
	}
	if data, _, err := getVersion(t, b, "bkt", "mp", done.VersionID); err != nil || data != "first" {
		t.Fatalf("completed version = %q, %v", data, err)
	}
}

func TestVersionFilesOnDisk(t *testing.T) {
	b, _ := mustNew(t)
	mustBucket(t, b, "bkt")
	mustVersioning(t, b, "bkt", storage.VersioningEnabled)
	v1 := mustPut(t, b, "bkt", "a/b", "1").VersionID
	v2 := mustPut(t, b, "bkt", "a/b", "2").VersionID
	mk := mustDelete(t, b, "bkt", "a/b", "").VersionID
	names, err := readNames(b.root, "bkt/a/b%v")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	// Names sort newest first; ids are the names.
	if !slices.Equal(names, []string{mk, v2, v1}) {
		t.Fatalf("versions directory = %q, want %q", names, []string{mk, v2, v1})
	}
	if _, err := b.root.Stat("bkt/a/b%o"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("object file exists while the latest is a marker: %v", err)
	}
	mustDelete(t, b, "bkt", "a/b", mk)
	if _, err := b.root.Stat("bkt/a/b%o"); err != nil {
		t.Fatalf("promoted object file: %v", err)
	}
	if names, _ := readNames(b.root, "bkt/a/b%v"); !slices.Equal(names, []string{v1}) {
		t.Fatalf("versions directory after promotion = %q", names)
	}
}

// After a restart with a clock that went back, new versions still sort
// newest first.
func TestVersionOrderSurvivesClockGoingBack(t *testing.T) {
	b, clk := mustNew(t)
	mustBucket(t, b, "bkt")
	mustVersioning(t, b, "bkt", storage.VersioningEnabled)
	clk.Advance(time.Hour)
	v1 := mustPut(t, b, "bkt", "k", "1").VersionID
	mk := mustDelete(t, b, "bkt", "k", "").VersionID

	b2, err := New("fs2", b.Root(), testutil.NewClock(testEpoch).Now)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	v2 := mustPut(t, b2, "bkt", "k", "2").VersionID
	want := []versionRow{{Key: "k", ID: v2, Latest: true, ETagSeen: true}, {Key: "k", ID: mk, Marker: true}, {Key: "k", ID: v1, ETagSeen: true}}
	if got := listVersions(t, b2, "bkt", "", 10); !slices.Equal(got, want) {
		t.Fatalf("versions = %+v, want %+v", got, want)
	}
	mk2 := mustDelete(t, b2, "bkt", "k", "").VersionID
	if got := listVersions(t, b2, "bkt", "", 10); len(got) != 4 || got[0].ID != mk2 || !got[0].Latest {
		t.Fatalf("versions after marker = %+v", got)
	}
}

// A version linked into the versions directory by a move that was
// interrupted (the object file still in place) is listed once, and the
// next write of the key completes the move.
func TestInterruptedMoveIsHarmless(t *testing.T) {
	b, _ := mustNew(t)
	mustBucket(t, b, "bkt")
	mustVersioning(t, b, "bkt", storage.VersioningEnabled)
	v1 := mustPut(t, b, "bkt", "k", "1").VersionID
	kf := keyFilesOf("bkt", "k")
	if err := b.root.Mkdir(kf.vdir, dirPerm); err != nil {
		t.Fatal(err)
	}
	if err := b.root.Link(kf.obj, kf.vdir+"/"+v1); err != nil {
		t.Fatal(err)
	}
	if got := listVersions(t, b, "bkt", "", 10); !slices.Equal(got, []versionRow{{Key: "k", ID: v1, Latest: true, ETagSeen: true}}) {
		t.Fatalf("versions = %+v", got)
	}
	v2 := mustPut(t, b, "bkt", "k", "2").VersionID
	want := []versionRow{{Key: "k", ID: v2, Latest: true, ETagSeen: true}, {Key: "k", ID: v1, ETagSeen: true}}
	if got := listVersions(t, b, "bkt", "", 10); !slices.Equal(got, want) {
		t.Fatalf("versions = %+v, want %+v", got, want)
	}
	if data, _, err := getVersion(t, b, "bkt", "k", v1); err != nil || data != "1" {
		t.Fatalf("GET v1 = %q, %v", data, err)
	}
}

// An empty versions directory (left by a crash) is no content: the bucket
// can be deleted and the directory is no common prefix.
func TestEmptyVersionsDirectoryIsNoContent(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	mustVersioning(t, b, "bkt", storage.VersioningEnabled)
	if err := b.root.MkdirAll("bkt/d/k%v", dirPerm); err != nil {
		t.Fatal(err)
	}
	lv, err := b.ListObjectVersions(ctx, "bkt", storage.ListVersionsOptions{Delimiter: "/", MaxKeys: 10})
	if err != nil || len(lv.CommonPrefixes) != 0 || len(lv.Versions) != 0 {
		t.Fatalf("ListObjectVersions = %+v, %v", lv, err)
	}
	wantErr(t, b.DeleteBucket(ctx, "bkt"), nil)
}
