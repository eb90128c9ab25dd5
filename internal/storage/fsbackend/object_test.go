package fsbackend

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

func md5ETag(data string) string {
	sum := md5.Sum([]byte(data))
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func TestPutGetHead(t *testing.T) {
	b, clk := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	opts := storage.PutOptions{
		ContentType:  "text/plain",
		UserMetadata: map[string]string{"color": "blue", "x-y": "z"},
		Headers:      map[string]string{"Cache-Control": "no-cache", "Content-Disposition": "inline"},
	}
	res, err := b.PutObject(ctx, "bkt", "dir/file.txt", strings.NewReader("hello world"), 11, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.ETag != md5ETag("hello world") {
		t.Fatalf("ETag = %s", res.ETag)
	}
	obj, err := b.GetObject(ctx, "bkt", "dir/file.txt", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(obj.Body)
	_ = obj.Body.Close()
	if string(data) != "hello world" || obj.ContentLength != 11 || obj.ContentRange != "" {
		t.Fatalf("got %q len %d range %q", data, obj.ContentLength, obj.ContentRange)
	}
	info := obj.Info
	if info.Key != "dir/file.txt" || info.Size != 11 || info.ETag != res.ETag || info.ContentType != "text/plain" ||
		!info.LastModified.Equal(clk.Now()) || !maps.Equal(info.UserMetadata, opts.UserMetadata) ||
		!maps.Equal(info.Headers, opts.Headers) || info.StorageClass != "STANDARD" {
		t.Fatalf("info = %+v", info)
	}
	head, err := b.HeadObject(ctx, "bkt", "dir/file.txt", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if head.ETag != res.ETag || head.Size != 11 || head.ContentType != "text/plain" {
		t.Fatalf("head = %+v", head)
	}

	// Defaults: S3 stores binary/octet-stream when no type is given.
	mustPut(t, b, "bkt", "empty", "")
	head, err = b.HeadObject(ctx, "bkt", "empty", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if head.ContentType != "binary/octet-stream" || head.Size != 0 || head.ETag != md5ETag("") {
		t.Fatalf("empty head = %+v", head)
	}
	if got := mustGet(t, b, "bkt", "empty"); got != "" {
		t.Fatalf("empty body = %q", got)
	}
}

func TestPutUnknownSize(t *testing.T) {
	b, _ := mustNew(t)
	mustBucket(t, b, "bkt")
	data := strings.Repeat("0123456789", 50000)
	res, err := b.PutObject(context.Background(), "bkt", "k", strings.NewReader(data), -1, storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ETag != md5ETag(data) || mustGet(t, b, "bkt", "k") != data {
		t.Fatal("unknown-size put stored the wrong data")
	}
}

func TestKeyAndChildCoexist(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	keys := []string{"a", "a/b", "a/", "a/b/c", "a//", "dir/", "dir/x", "x%o", "x%p", ".x", "%n"}
	for _, k := range keys {
		mustPut(t, b, "bkt", k, "v:"+k)
	}
	for _, k := range keys {
		if got := mustGet(t, b, "bkt", k); got != "v:"+k {
			t.Fatalf("GET %q = %q", k, got)
		}
	}
	// Deleting the object "a" keeps "a/b" and the folder marker "a/".
	if _, err := b.DeleteObject(ctx, "bkt", "a", storage.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := b.HeadObject(ctx, "bkt", "a", storage.GetOptions{})
	wantErr(t, err, s3err.ErrNoSuchKey)
	for _, k := range []string{"a/", "a/b", "a/b/c"} {
		if got := mustGet(t, b, "bkt", k); got != "v:"+k {
			t.Fatalf("GET %q after deleting a = %q", k, got)
		}
	}
}

func TestGetRangesAndParts(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	mustPut(t, b, "bkt", "ten", "0123456789")
	tests := []struct {
		name  string
		opts  storage.GetOptions
		body  string
		crang string
		err   error
	}{
		{"whole", storage.GetOptions{}, "0123456789", "", nil},
		{"range", storage.GetOptions{Range: &storage.Range{Start: 2, End: 4}}, "234", "bytes 2-4/10", nil},
		{"open range", storage.GetOptions{Range: &storage.Range{Start: 7, End: -1}}, "789", "bytes 7-9/10", nil},
		{"suffix", storage.GetOptions{Range: &storage.Range{Start: -1, End: 2}}, "89", "bytes 8-9/10", nil},
		{"clamped", storage.GetOptions{Range: &storage.Range{Start: 8, End: 100}}, "89", "bytes 8-9/10", nil},
		{"unsatisfiable", storage.GetOptions{Range: &storage.Range{Start: 10, End: -1}}, "", "", s3err.ErrInvalidRange},
		{"part 1 of a single-part object", storage.GetOptions{PartNumber: 1}, "0123456789", "bytes 0-9/10", nil},
		{"part 2 of a single-part object", storage.GetOptions{PartNumber: 2}, "", "", s3err.ErrInvalidPartNumber},
		{"part 0", storage.GetOptions{PartNumber: -1}, "", "", s3err.ErrInvalidArgument},
		{"part and range", storage.GetOptions{PartNumber: 1, Range: &storage.Range{Start: 0, End: 1}}, "", "", s3err.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := b.GetObject(ctx, "bkt", "ten", tt.opts)
			wantErr(t, err, tt.err)
			_, herr := b.HeadObject(ctx, "bkt", "ten", tt.opts)
			wantErr(t, herr, tt.err)
			if err != nil {
				return
			}
			defer obj.Body.Close()
			data, _ := io.ReadAll(obj.Body)
			if string(data) != tt.body || obj.ContentLength != int64(len(tt.body)) || obj.ContentRange != tt.crang {
				t.Fatalf("got %q len %d range %q", data, obj.ContentLength, obj.ContentRange)
			}
		})
	}
}

func TestGetConditions(t *testing.T) {
	b, clk := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	res := mustPut(t, b, "bkt", "k", "data")
	mod := clk.Now()
	tests := []struct {
		name string
		c    storage.Conditions
		err  error
	}{
		{"if-match", storage.Conditions{IfMatch: res.ETag}, nil},
		{"if-match fails", storage.Conditions{IfMatch: `"nope"`}, s3err.ErrPreconditionFailed},
		{"if-none-match", storage.Conditions{IfNoneMatch: res.ETag}, s3err.ErrNotModified},
		{"if-modified-since", storage.Conditions{IfModifiedSince: mod}, s3err.ErrNotModified},
		{"if-modified-since earlier", storage.Conditions{IfModifiedSince: mod.Add(-time.Second)}, nil},
		{"if-unmodified-since earlier", storage.Conditions{IfUnmodifiedSince: mod.Add(-time.Second)}, s3err.ErrPreconditionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := b.GetObject(ctx, "bkt", "k", storage.GetOptions{Conditions: tt.c})
			wantErr(t, err, tt.err)
			if err == nil {
				_ = obj.Body.Close()
			}
			_, err = b.HeadObject(ctx, "bkt", "k", storage.GetOptions{Conditions: tt.c})
			wantErr(t, err, tt.err)
		})
	}
}

func TestMissing(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	_, err := b.GetObject(ctx, "bkt", "nope", storage.GetOptions{})
	wantErr(t, err, s3err.ErrNoSuchKey)
	_, err = b.GetObject(ctx, "nobucket", "k", storage.GetOptions{})
	wantErr(t, err, s3err.ErrNoSuchBucket)
	_, err = b.HeadObject(ctx, "bkt", "no/such/dir/k", storage.GetOptions{})
	wantErr(t, err, s3err.ErrNoSuchKey)
	_, err = b.PutObject(ctx, "nobucket", "k", strings.NewReader("x"), 1, storage.PutOptions{})
	wantErr(t, err, s3err.ErrNoSuchBucket)
	{
		_, err := b.DeleteObject(ctx, "bkt", "nope", storage.DeleteOptions{})
		wantErr(t, err, nil)
	}
	{
		_, err := b.DeleteObject(ctx, "nobucket", "nope", storage.DeleteOptions{})
		wantErr(t, err, s3err.ErrNoSuchBucket)
	}
}

func TestPutBodyChecks(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	sum := md5.Sum([]byte("abc"))
	good := base64.StdEncoding.EncodeToString(sum[:])
	tests := []struct {
		name string
		body io.Reader
		size int64
		md5  string
		err  error
	}{
		{"content-md5 ok", strings.NewReader("abc"), 3, good, nil},
		{"content-md5 mismatch", strings.NewReader("abd"), 3, good, s3err.ErrBadDigest},
		{"content-md5 malformed", strings.NewReader("abc"), 3, "!!", s3err.ErrInvalidDigest},
		{"content-md5 wrong length", strings.NewReader("abc"), 3, base64.StdEncoding.EncodeToString([]byte("short")), s3err.ErrInvalidDigest},
		{"short body", strings.NewReader("ab"), 3, "", s3err.ErrIncompleteBody},
		{"unexpected EOF", failAfter([]byte("ab"), io.ErrUnexpectedEOF), 3, "", s3err.ErrIncompleteBody},
		{"reader error", failAfter([]byte("ab"), s3err.ErrSignatureDoesNotMatch), 3, "", s3err.ErrSignatureDoesNotMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _ = b.DeleteObject(ctx, "bkt", "k", storage.DeleteOptions{})
			_, err := b.PutObject(ctx, "bkt", "k", tt.body, tt.size, storage.PutOptions{ContentMD5: tt.md5})
			wantErr(t, err, tt.err)
			_, herr := b.HeadObject(ctx, "bkt", "k", storage.GetOptions{})
			if tt.err != nil {
				wantErr(t, herr, s3err.ErrNoSuchKey)
			} else {
				wantErr(t, herr, nil)
			}
		})
	}
	// A body longer than the declared size stores exactly size bytes.
	if _, err := b.PutObject(ctx, "bkt", "k2", strings.NewReader("abcdef"), 3, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, b, "bkt", "k2"); got != "abc" {
		t.Fatalf("got %q", got)
	}
	assertStagingEmpty(t, b)
}

// assertStagingEmpty checks that no temporary file was left behind.
func assertStagingEmpty(t *testing.T, b *Backend) {
	t.Helper()
	names, err := b.readNames(stagingDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 0 {
		t.Fatalf("staging directory holds %q", names)
	}
}

func TestConditionalPut(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	put := func(data string, o storage.PutOptions) (*storage.PutResult, error) {
		return b.PutObject(ctx, "bkt", "k", strings.NewReader(data), int64(len(data)), o)
	}
	// If-Match on a missing key: NoSuchKey.
	_, err := put("v0", storage.PutOptions{IfMatch: `"abc"`})
	wantErr(t, err, s3err.ErrNoSuchKey)
	// If-None-Match: * creates once.
	r1, err := put("v1", storage.PutOptions{IfNoneMatch: "*"})
	wantErr(t, err, nil)
	_, err = put("v1b", storage.PutOptions{IfNoneMatch: "*"})
	wantErr(t, err, s3err.ErrPreconditionFailed)
	// If-None-Match with ETags: fails when one matches.
	_, err = put("v1c", storage.PutOptions{IfNoneMatch: `"x", ` + r1.ETag})
	wantErr(t, err, s3err.ErrPreconditionFailed)
	_, err = put("v1", storage.PutOptions{IfNoneMatch: `"x"`})
	wantErr(t, err, nil)
	// If-Match: compare-and-swap.
	r2, err := put("v2", storage.PutOptions{IfMatch: r1.ETag})
	wantErr(t, err, nil)
	_, err = put("v3", storage.PutOptions{IfMatch: r1.ETag})
	wantErr(t, err, s3err.ErrPreconditionFailed)
	if got := mustGet(t, b, "bkt", "k"); got != "v2" {
		t.Fatalf("object = %q after a failed CAS, want v2", got)
	}
	_, err = put("v4", storage.PutOptions{IfMatch: strings.Trim(r2.ETag, `"`)})
	wantErr(t, err, nil)
	assertStagingEmpty(t, b)
}

func TestCopyObject(t *testing.T) {
	b, clk := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "src")
	mustBucket(t, b, "dst")
	srcOpts := storage.PutOptions{ContentType: "text/a", UserMetadata: map[string]string{"m": "1"}, Headers: map[string]string{"Cache-Control": "max-age=1"}}
	res, err := b.PutObject(ctx, "src", "k", strings.NewReader("payload"), 7, srcOpts)
	if err != nil {
		t.Fatal(err)
	}
	srcTime := clk.Now()
	clk.Advance(time.Minute)

	// COPY directive keeps the metadata.
	cr, err := b.CopyObject(ctx, storage.ObjectRef{Bucket: "src", Key: "k"}, storage.ObjectRef{Bucket: "dst", Key: "c/copy"}, storage.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cr.ETag != res.ETag || !cr.LastModified.Equal(clk.Now()) {
		t.Fatalf("copy result = %+v", cr)
	}
	info, err := b.HeadObject(ctx, "dst", "c/copy", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.ContentType != "text/a" || info.UserMetadata["m"] != "1" || info.Headers["Cache-Control"] != "max-age=1" || info.Key != "c/copy" {
		t.Fatalf("copied info = %+v", info)
	}
	if mustGet(t, b, "dst", "c/copy") != "payload" {
		t.Fatal("copied data differs")
	}

	// REPLACE directive takes the new metadata.
	_, err = b.CopyObject(ctx, storage.ObjectRef{Bucket: "src", Key: "k"}, storage.ObjectRef{Bucket: "dst", Key: "r"},
		storage.CopyOptions{ReplaceMetadata: true, Put: storage.PutOptions{ContentType: "text/b", UserMetadata: map[string]string{"n": "2"}}})
	if err != nil {
		t.Fatal(err)
	}
	info, _ = b.HeadObject(ctx, "dst", "r", storage.GetOptions{})
	if info.ContentType != "text/b" || info.UserMetadata["n"] != "2" || info.UserMetadata["m"] != "" || len(info.Headers) != 0 {
		t.Fatalf("replaced info = %+v", info)
	}

	// Copy to itself: only with REPLACE, which updates the metadata.
	self := storage.ObjectRef{Bucket: "src", Key: "k"}
	_, err = b.CopyObject(ctx, self, self, storage.CopyOptions{})
	wantErr(t, err, s3err.ErrInvalidRequest)
	_, err = b.CopyObject(ctx, self, self, storage.CopyOptions{ReplaceMetadata: true, Put: storage.PutOptions{ContentType: "text/new"}})
	wantErr(t, err, nil)
	info, _ = b.HeadObject(ctx, "src", "k", storage.GetOptions{})
	if info.ContentType != "text/new" || info.ETag != res.ETag || mustGet(t, b, "src", "k") != "payload" {
		t.Fatalf("self-copy info = %+v", info)
	}

	// Copy-source conditions: failures are always 412.
	condTests := []struct {
		name string
		c    storage.Conditions
		err  error
	}{
		{"if-match ok", storage.Conditions{IfMatch: res.ETag}, nil},
		{"if-match fails", storage.Conditions{IfMatch: `"x"`}, s3err.ErrPreconditionFailed},
		{"if-none-match matches", storage.Conditions{IfNoneMatch: res.ETag}, s3err.ErrPreconditionFailed},
		{"if-modified-since not modified", storage.Conditions{IfModifiedSince: clk.Now()}, s3err.ErrPreconditionFailed},
		{"if-unmodified-since before", storage.Conditions{IfUnmodifiedSince: srcTime.Add(-time.Hour)}, s3err.ErrPreconditionFailed},
	}
	for _, tt := range condTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.CopyObject(ctx, self, storage.ObjectRef{Bucket: "dst", Key: "cond"}, storage.CopyOptions{Conditions: tt.c})
			wantErr(t, err, tt.err)
		})
	}

	// Errors.
	_, err = b.CopyObject(ctx, storage.ObjectRef{Bucket: "src", Key: "nope"}, storage.ObjectRef{Bucket: "dst", Key: "x"}, storage.CopyOptions{})
	wantErr(t, err, s3err.ErrNoSuchKey)
	_, err = b.CopyObject(ctx, self, storage.ObjectRef{Bucket: "nobucket", Key: "x"}, storage.CopyOptions{})
	wantErr(t, err, s3err.ErrNoSuchBucket)
	_, err = b.CopyObject(ctx, self, storage.ObjectRef{Bucket: "dst", Key: "c/copy"}, storage.CopyOptions{Put: storage.PutOptions{IfNoneMatch: "*"}})
	wantErr(t, err, s3err.ErrPreconditionFailed)
	assertStagingEmpty(t, b)
}

func TestBuckets(t *testing.T) {
	b, clk := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "beta")
	clk.Advance(time.Hour)
	mustBucket(t, b, "alpha")
	wantErr(t, b.CreateBucket(ctx, "alpha", storage.CreateBucketOptions{}), s3err.ErrBucketAlreadyOwnedByYou)
	wantErr(t, b.HeadBucket(ctx, "alpha"), nil)
	wantErr(t, b.HeadBucket(ctx, "gamma"), s3err.ErrNoSuchBucket)

	got, err := b.ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "alpha" || got[1].Name != "beta" ||
		!got[0].Created.Equal(testEpoch.Add(time.Hour)) || !got[1].Created.Equal(testEpoch) {
		t.Fatalf("ListBuckets = %+v", got)
	}

	mustPut(t, b, "alpha", "deep/key", "x")
	wantErr(t, b.DeleteBucket(ctx, "alpha"), s3err.ErrBucketNotEmpty)
	{
		_, err := b.DeleteObject(ctx, "alpha", "deep/key", storage.DeleteOptions{})
		wantErr(t, err, nil)
	}
	id, err := b.CreateMultipartUpload(ctx, "alpha", "mp", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// In-progress uploads do not keep a bucket: they are aborted with it (S3).
	wantErr(t, b.DeleteBucket(ctx, "alpha"), nil)
	wantErr(t, b.AbortMultipartUpload(ctx, "alpha", "mp", id), s3err.ErrNoSuchBucket)
	wantErr(t, b.DeleteBucket(ctx, "alpha"), s3err.ErrNoSuchBucket)
	wantErr(t, b.HeadBucket(ctx, "alpha"), s3err.ErrNoSuchBucket)

	// Re-creating a deleted bucket starts empty.
	mustBucket(t, b, "alpha")
	l, err := b.ListObjects(ctx, "alpha", storage.ListOptions{MaxKeys: 10})
	if err != nil || len(l.Objects) != 0 {
		t.Fatalf("recreated bucket listing = %+v, %v", l, err)
	}
	ups, err := b.ListMultipartUploads(ctx, "alpha", storage.ListUploadsOptions{})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("recreated bucket uploads = %+v, %v", ups, err)
	}
	assertStagingEmpty(t, b)
}

func TestPing(t *testing.T) {
	b, _ := mustNew(t)
	wantErr(t, b.Ping(context.Background()), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Ping(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ping(cancelled) = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded on a closed backend")
	}
}

func TestPingRootRemoved(t *testing.T) {
	dir := t.TempDir() + "/objects"
	b, err := New("fs", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	wantErr(t, b.Ping(context.Background()), nil)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded after the root was removed")
	}
}

func TestPutNilBody(t *testing.T) {
	b, _ := mustNew(t)
	mustBucket(t, b, "bkt")
	for _, size := range []int64{0, -1} {
		if _, err := b.PutObject(context.Background(), "bkt", "dir/", nil, size, storage.PutOptions{}); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if got := mustGet(t, b, "bkt", "dir/"); got != "" {
			t.Fatalf("got %q", got)
		}
	}
	_, err := b.PutObject(context.Background(), "bkt", "k", nil, 3, storage.PutOptions{})
	wantErr(t, err, s3err.ErrIncompleteBody)
}
