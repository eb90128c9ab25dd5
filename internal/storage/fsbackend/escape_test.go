package fsbackend

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// newInParent returns a backend whose root is <parent>/objects, so tests
// can check that nothing appears next to the root.
func newInParent(t *testing.T) (*Backend, string) {
	t.Helper()
	parent := t.TempDir()
	b, err := New("fs", filepath.Join(parent, "objects"), func() time.Time { return testEpoch })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, parent
}

// treeOf lists every path under dir.
func treeOf(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPathEscapesRejected(t *testing.T) {
	b, parent := newInParent(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")

	badKeys := map[string]error{
		"../x":                    s3err.ErrInvalidObjectName,
		"../../etc/x":             s3err.ErrInvalidObjectName,
		"a/../../x":               s3err.ErrInvalidObjectName,
		"a/b/../../../x":          s3err.ErrInvalidObjectName,
		"..":                      s3err.ErrInvalidObjectName,
		"a/..":                    s3err.ErrInvalidObjectName,
		"/etc/passwd":             s3err.ErrInvalidObjectName,
		"//x":                     s3err.ErrInvalidObjectName,
		"a\x00b":                  s3err.ErrInvalidObjectName,
		"\x00":                    s3err.ErrInvalidObjectName,
		"":                        s3err.ErrInvalidObjectName,
		"\xc0\xaf":                s3err.ErrInvalidObjectName, // overlong '/'
		"..\\x":                   nil,                        // a plain key on Unix: stays inside
		strings.Repeat("k", 1025): s3err.ErrKeyTooLong,
	}
	badBuckets := []string{"", ".", "..", "../x", "a/b", "/abs", ".multipart", ".staging", "a\x00", "x..y", "a\\b"}

	type op struct {
		name string
		run  func(bucket, key string) error
	}
	body := func() *strings.Reader { return strings.NewReader("data") }
	ops := []op{
		{"put", func(bk, k string) error {
			_, err := b.PutObject(ctx, bk, k, body(), 4, storage.PutOptions{})
			return err
		}},
		{"get", func(bk, k string) error {
			o, err := b.GetObject(ctx, bk, k, storage.GetOptions{})
			if err == nil {
				_ = o.Body.Close()
			}
			return err
		}},
		{"head", func(bk, k string) error {
			_, err := b.HeadObject(ctx, bk, k, storage.GetOptions{})
			return err
		}},
		{"delete", func(bk, k string) error { _, err := b.DeleteObject(ctx, bk, k, storage.DeleteOptions{}); return err }},
		{"copy to", func(bk, k string) error {
			_, err := b.CopyObject(ctx, storage.ObjectRef{Bucket: "bkt", Key: "src"}, storage.ObjectRef{Bucket: bk, Key: k}, storage.CopyOptions{})
			return err
		}},
		{"copy from", func(bk, k string) error {
			_, err := b.CopyObject(ctx, storage.ObjectRef{Bucket: bk, Key: k}, storage.ObjectRef{Bucket: "bkt", Key: "dst"}, storage.CopyOptions{})
			return err
		}},
		{"create upload", func(bk, k string) error {
			id, err := b.CreateMultipartUpload(ctx, bk, k, storage.PutOptions{})
			if err == nil {
				_ = b.AbortMultipartUpload(ctx, bk, k, id)
			}
			return err
		}},
	}
	mustPut(t, b, "bkt", "src", "source")
	before := treeOf(t, parent)

	for key, want := range badKeys {
		if want == nil {
			continue
		}
		for _, o := range ops {
			err := o.run("bkt", key)
			if !errorsIs(err, want) {
				t.Errorf("%s key %.30q: %v, want %v", o.name, key, err, want)
			}
		}
	}
	for _, bk := range badBuckets {
		for _, o := range ops {
			if err := o.run(bk, "k"); !errorsIs(err, s3err.ErrInvalidBucketName) {
				t.Errorf("%s bucket %q: %v, want InvalidBucketName", o.name, bk, err)
			}
		}
		if err := b.CreateBucket(ctx, bk, storage.CreateBucketOptions{}); !errorsIs(err, s3err.ErrInvalidBucketName) {
			t.Errorf("create bucket %q: %v", bk, err)
		}
		if err := b.DeleteBucket(ctx, bk); !errorsIs(err, s3err.ErrInvalidBucketName) {
			t.Errorf("delete bucket %q: %v", bk, err)
		}
		if _, err := b.ListObjects(ctx, bk, storage.ListOptions{MaxKeys: 1}); !errorsIs(err, s3err.ErrInvalidBucketName) {
			t.Errorf("list bucket %q: %v", bk, err)
		}
		if _, err := b.ListMultipartUploads(ctx, bk, storage.ListUploadsOptions{}); !errorsIs(err, s3err.ErrInvalidBucketName) {
			t.Errorf("list uploads of %q: %v", bk, err)
		}
	}
	if after := treeOf(t, parent); !slices.Equal(before, after) {
		t.Fatalf("rejected requests changed the tree:\nbefore %q\nafter  %q", before, after)
	}

	// Keys that look like paths but are legal S3 keys stay inside the bucket.
	for _, k := range []string{"..\\x", "./x", "a/./b", ".", "...", "a//b", "%2e%2e/x", "..a", "a.."} {
		mustPut(t, b, "bkt", k, "v")
		if got := mustGet(t, b, "bkt", k); got != "v" {
			t.Fatalf("GET %q = %q", k, got)
		}
	}
	for _, p := range treeOf(t, parent) {
		if p != "." && p != "objects" && !strings.HasPrefix(p, "objects/") {
			t.Fatalf("a write escaped the root: %q", p)
		}
	}
}

func TestUploadIDsValidated(t *testing.T) {
	b, parent := newInParent(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	mustBucket(t, b, "other")
	id, err := b.CreateMultipartUpload(ctx, "other", "k", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := treeOf(t, parent)
	bad := []string{
		"", "x", "../../bkt", "../other/" + id, strings.ToUpper(id), id + "0", id[:31] + "/",
		"00000000000000000000000000000/..", id, // id belongs to another bucket
	}
	for _, u := range bad {
		_, err := b.UploadPart(ctx, "bkt", "k", u, 1, strings.NewReader("x"), 1, storage.PartOptions{})
		wantErr(t, err, s3err.ErrNoSuchUpload)
		_, err = b.ListParts(ctx, "bkt", "k", u, storage.ListPartsOptions{})
		wantErr(t, err, s3err.ErrNoSuchUpload)
		_, err = b.CompleteMultipartUpload(ctx, "bkt", "k", u, []storage.CompletedPart{{PartNumber: 1, ETag: "x"}})
		wantErr(t, err, s3err.ErrNoSuchUpload)
		wantErr(t, b.AbortMultipartUpload(ctx, "bkt", "k", u), s3err.ErrNoSuchUpload)
	}
	// The right ID with the wrong key is no upload either.
	wantErr(t, b.AbortMultipartUpload(ctx, "other", "not-k", id), s3err.ErrNoSuchUpload)
	if after := treeOf(t, parent); !slices.Equal(before, after) {
		t.Fatalf("rejected requests changed the tree:\nbefore %q\nafter  %q", before, after)
	}
}

// TestSymlinkInTreeNotFollowedOut plants a symlink to a directory outside
// the root where a key's directory would be: no request may read or write
// through it.
func TestSymlinkInTreeNotFollowedOut(t *testing.T) {
	b, parent := newInParent(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	outside := filepath.Join(parent, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret%o"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(b.Root(), "bkt", "evil")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutObject(ctx, "bkt", "evil/x", strings.NewReader("x"), 1, storage.PutOptions{}); err == nil {
		t.Fatal("put through a symlink out of the root succeeded")
	}
	if o, err := b.GetObject(ctx, "bkt", "evil/secret", storage.GetOptions{}); err == nil {
		_ = o.Body.Close()
		t.Fatal("get through a symlink out of the root succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "x%o")); err == nil {
		t.Fatal("a file was written outside the root")
	}
	// Listing may fail on the planted link, but must never show what is
	// behind it.
	if res, err := b.ListObjects(ctx, "bkt", storage.ListOptions{MaxKeys: 10}); err == nil {
		for _, o := range res.Objects {
			if strings.HasPrefix(o.Key, "evil/") {
				t.Fatalf("listing shows %q from outside the root", o.Key)
			}
		}
	}
}

func errorsIs(err, target error) bool {
	return err != nil && s3err.From(err).Code == s3err.From(target).Code
}
