//go:build integration

package s3backend

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

func TestMultipartUpload(t *testing.T) {
	a := mustBackend(t)
	// A second Backend stands for another instance of the fleet: upload ids
	// pass through unchanged, so it can continue what a started.
	other := mustBackend(t)
	ctx := context.Background()
	bucket := mustBucket(t, a)
	key := "multi/part ü+object"

	src := randomBytes(10, 6<<20)
	mustPut(t, a, bucket, "copy source", src, storage.PutOptions{})
	srcRef := storage.ObjectRef{Bucket: bucket, Key: "copy source"}

	uploadID, err := a.CreateMultipartUpload(ctx, bucket, key, storage.PutOptions{
		ContentType:  "application/x-multi",
		UserMetadata: map[string]string{"parts": "three"},
		Headers:      map[string]string{"Content-Disposition": "inline", "Expires": "Fri, 02 Jan 2037 00:00:00 GMT"},
	})
	if err != nil || uploadID == "" {
		t.Fatalf("CreateMultipartUpload = %q, %v", uploadID, err)
	}

	part1 := randomBytes(11, 5<<20)
	r1, err := other.UploadPart(ctx, bucket, key, uploadID, 1, onlyReader{bytes.NewReader(part1)}, int64(len(part1)), storage.PartOptions{})
	if err != nil {
		t.Fatalf("UploadPart(1) on another instance: %v", err)
	}
	if r1.ETag != md5ETag(part1) {
		t.Fatalf("part 1 ETag = %s, want %s", r1.ETag, md5ETag(part1))
	}

	// Part 2 copies bytes [1 MiB, 6 MiB) of the source.
	_, err = a.UploadPartCopy(ctx, srcRef, bucket, key, uploadID, 2, storage.CopyPartOptions{
		Range:      &storage.Range{Start: 1 << 20, End: 6<<20 - 1},
		Conditions: storage.Conditions{IfMatch: `"0123"`},
	})
	wantS3Err(t, "UploadPartCopy(failing condition)", err, s3err.ErrPreconditionFailed)
	r2, err := a.UploadPartCopy(ctx, srcRef, bucket, key, uploadID, 2, storage.CopyPartOptions{
		Range:      &storage.Range{Start: 1 << 20, End: 6<<20 - 1},
		Conditions: storage.Conditions{IfMatch: md5ETag(src)},
	})
	if err != nil {
		t.Fatalf("UploadPartCopy(2): %v", err)
	}
	if r2.ETag != md5ETag(src[1<<20:]) || r2.LastModified.IsZero() {
		t.Fatalf("part 2 = %+v, want ETag %s", r2, md5ETag(src[1<<20:]))
	}

	part3 := []byte("the small last part")
	r3, err := a.UploadPart(ctx, bucket, key, uploadID, 3, bytes.NewReader(part3), int64(len(part3)), storage.PartOptions{ContentMD5: md5Base64(part3)})
	if err != nil {
		t.Fatalf("UploadPart(3): %v", err)
	}
	_, err = a.UploadPart(ctx, bucket, key, uploadID, 4, strings.NewReader("abc"), 3, storage.PartOptions{ContentMD5: md5Base64([]byte("xyz"))})
	wantS3Err(t, "UploadPart(wrong Content-MD5)", err, s3err.ErrBadDigest)

	// ListParts, two pages.
	page1, err := other.ListParts(ctx, bucket, key, uploadID, storage.ListPartsOptions{MaxParts: 2})
	if err != nil {
		t.Fatalf("ListParts(page 1): %v", err)
	}
	if len(page1.Parts) != 2 || !page1.IsTruncated || page1.NextPartNumberMarker != 2 {
		t.Fatalf("ListParts page 1 = %+v", page1)
	}
	if p := page1.Parts[0]; p.PartNumber != 1 || p.ETag != r1.ETag || p.Size != int64(len(part1)) || p.LastModified.IsZero() {
		t.Fatalf("part 1 listed as %+v", p)
	}
	page2, err := a.ListParts(ctx, bucket, key, uploadID, storage.ListPartsOptions{PartNumberMarker: 2, MaxParts: 2})
	if err != nil {
		t.Fatalf("ListParts(page 2): %v", err)
	}
	if len(page2.Parts) != 1 || page2.IsTruncated || page2.Parts[0].PartNumber != 3 || page2.Parts[0].ETag != r3.ETag {
		t.Fatalf("ListParts page 2 = %+v", page2)
	}

	// A second upload, aborted.
	abortID, err := a.CreateMultipartUpload(ctx, bucket, "multi/aborted", storage.PutOptions{})
	if err != nil {
		t.Fatalf("CreateMultipartUpload(2): %v", err)
	}
	// MinIO lists uploads only for an exact key given as prefix.
	for _, u := range []struct{ key, id string }{{key, uploadID}, {"multi/aborted", abortID}} {
		ups, err := a.ListMultipartUploads(ctx, bucket, storage.ListUploadsOptions{Prefix: u.key})
		if err != nil {
			t.Fatalf("ListMultipartUploads(%s): %v", u.key, err)
		}
		if len(ups.Uploads) != 1 || ups.Uploads[0].Key != u.key || ups.Uploads[0].UploadID != u.id || ups.Uploads[0].Initiated.IsZero() {
			t.Fatalf("ListMultipartUploads(%s) = %+v, want upload %s", u.key, ups, u.id)
		}
	}
	if err := other.AbortMultipartUpload(ctx, bucket, "multi/aborted", abortID); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	_, err = a.ListParts(ctx, bucket, "multi/aborted", abortID, storage.ListPartsOptions{})
	wantS3Err(t, "ListParts(aborted)", err, s3err.ErrNoSuchUpload)

	// Completion: a wrong ETag is refused, the right list assembles the object.
	_, err = a.CompleteMultipartUpload(ctx, bucket, key, uploadID, []storage.CompletedPart{
		{PartNumber: 1, ETag: r1.ETag}, {PartNumber: 2, ETag: `"00000000000000000000000000000000"`}, {PartNumber: 3, ETag: r3.ETag},
	})
	wantS3Err(t, "CompleteMultipartUpload(wrong ETag)", err, s3err.ErrInvalidPart)
	done, err := other.CompleteMultipartUpload(ctx, bucket, key, uploadID, []storage.CompletedPart{
		{PartNumber: 1, ETag: r1.ETag}, {PartNumber: 2, ETag: r2.ETag}, {PartNumber: 3, ETag: r3.ETag},
	})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if !strings.HasPrefix(done.ETag, `"`) || !strings.HasSuffix(done.ETag, `-3"`) {
		t.Fatalf("multipart ETag = %s, want a quoted \"...-3\"", done.ETag)
	}

	want := slices.Concat(part1, src[1<<20:], part3)
	obj, got := mustGetBytes(t, a, bucket, key, storage.GetOptions{})
	if !bytes.Equal(got, want) {
		t.Fatalf("assembled object: %d bytes, want %d (content differs)", len(got), len(want))
	}
	info := obj.Info
	if info.ETag != done.ETag || info.ContentType != "application/x-multi" || info.UserMetadata["parts"] != "three" ||
		info.Headers["Content-Disposition"] != "inline" || info.Headers["Expires"] != "Fri, 02 Jan 2037 00:00:00 GMT" {
		t.Fatalf("assembled object info = %+v", info)
	}
	p2, got2 := mustGetBytes(t, a, bucket, key, storage.GetOptions{PartNumber: 2})
	if !bytes.Equal(got2, src[1<<20:]) || p2.Info.Size != int64(len(want)) {
		t.Fatalf("GetObject(partNumber 2): %d bytes, size %d", len(got2), p2.Info.Size)
	}

	// The finished upload is gone; unknown ids are NoSuchUpload everywhere.
	_, err = a.ListParts(ctx, bucket, key, uploadID, storage.ListPartsOptions{})
	wantS3Err(t, "ListParts(completed)", err, s3err.ErrNoSuchUpload)
	_, err = a.UploadPart(ctx, bucket, key, "bogus-upload-id", 1, strings.NewReader("x"), 1, storage.PartOptions{})
	wantS3Err(t, "UploadPart(bogus id)", err, s3err.ErrNoSuchUpload)
	_, err = a.UploadPartCopy(ctx, srcRef, bucket, key, "bogus-upload-id", 1, storage.CopyPartOptions{})
	wantS3Err(t, "UploadPartCopy(bogus id)", err, s3err.ErrNoSuchUpload)
	_, err = a.CompleteMultipartUpload(ctx, bucket, key, "bogus-upload-id", []storage.CompletedPart{{PartNumber: 1, ETag: r1.ETag}})
	wantS3Err(t, "CompleteMultipartUpload(bogus id)", err, s3err.ErrNoSuchUpload)
	// AWS answers NoSuchUpload, MinIO 204: either is fine, nothing else.
	if err := a.AbortMultipartUpload(ctx, bucket, key, "bogus-upload-id"); err != nil {
		wantS3Err(t, "AbortMultipartUpload(bogus id)", err, s3err.ErrNoSuchUpload)
	}
	_, err = a.UploadPart(ctx, bucket, key, "bogus-upload-id", 0, strings.NewReader("x"), 1, storage.PartOptions{})
	wantS3Err(t, "UploadPart(part 0)", err, s3err.ErrInvalidArgument)
}

func TestListObjects(t *testing.T) {
	b := mustBackend(t)
	ctx := context.Background()
	bucket := mustBucket(t, b)
	keys := []string{"a/1", "a/2", "a/3", "b", "c/1", "c/2", "d", "e/x/y"}
	for _, k := range keys {
		mustPut(t, b, bucket, k, []byte(k), storage.PutOptions{})
	}

	// pageAll lists with opts until the end, returning each page's entries
	// (objects and prefixes merged in order) and checking NextMarker.
	pageAll := func(opts storage.ListOptions) [][]string {
		t.Helper()
		var pages [][]string
		for i := 0; i < 20; i++ {
			res, err := b.ListObjects(ctx, bucket, opts)
			if err != nil {
				t.Fatalf("ListObjects(%+v): %v", opts, err)
			}
			var entries []string
			for _, o := range res.Objects {
				entries = append(entries, o.Key)
				if o.Size != int64(len(o.Key)) || o.ETag != md5ETag([]byte(o.Key)) || o.LastModified.IsZero() {
					t.Errorf("listed object %+v", o)
				}
			}
			entries = append(entries, res.CommonPrefixes...)
			slices.Sort(entries)
			pages = append(pages, entries)
			if !res.IsTruncated {
				if res.NextMarker != "" {
					t.Errorf("NextMarker %q on the last page", res.NextMarker)
				}
				return pages
			}
			if last := entries[len(entries)-1]; res.NextMarker != last {
				t.Fatalf("NextMarker = %q, want the last entry %q", res.NextMarker, last)
			}
			opts.Marker = res.NextMarker
		}
		t.Fatalf("listing did not end")
		return nil
	}

	tests := []struct {
		name string
		opts storage.ListOptions
		want [][]string
	}{
		{"all", storage.ListOptions{MaxKeys: 1000}, [][]string{keys}},
		{"pages of 3", storage.ListOptions{MaxKeys: 3}, [][]string{{"a/1", "a/2", "a/3"}, {"b", "c/1", "c/2"}, {"d", "e/x/y"}}},
		{"delimiter", storage.ListOptions{Delimiter: "/", MaxKeys: 1000}, [][]string{{"a/", "b", "c/", "d", "e/"}}},
		{"delimiter pages of 1", storage.ListOptions{Delimiter: "/", MaxKeys: 1}, [][]string{{"a/"}, {"b"}, {"c/"}, {"d"}, {"e/"}}},
		{"delimiter pages of 2", storage.ListOptions{Delimiter: "/", MaxKeys: 2}, [][]string{{"a/", "b"}, {"c/", "d"}, {"e/"}}},
		{"prefix", storage.ListOptions{Prefix: "c/", MaxKeys: 1000}, [][]string{{"c/1", "c/2"}}},
		{"prefix and delimiter", storage.ListOptions{Prefix: "e/", Delimiter: "/", MaxKeys: 1000}, [][]string{{"e/x/"}}},
		{"marker", storage.ListOptions{Marker: "b", MaxKeys: 1000}, [][]string{{"c/1", "c/2", "d", "e/x/y"}}},
		{"prefix marker", storage.ListOptions{Marker: "a/", Delimiter: "/", MaxKeys: 1000}, [][]string{{"b", "c/", "d", "e/"}}},
		{"no match", storage.ListOptions{Prefix: "zzz", MaxKeys: 1000}, [][]string{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pageAll(tt.opts); !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Fatalf("pages = %q, want %q", got, tt.want)
			}
		})
	}

	res, err := b.ListObjects(ctx, bucket, storage.ListOptions{MaxKeys: 0, Marker: "b"})
	if err != nil || len(res.Objects)+len(res.CommonPrefixes) != 0 || !res.IsTruncated || res.NextMarker != "b" {
		t.Fatalf("ListObjects(MaxKeys 0) = %+v, %v", res, err)
	}
	res, err = b.ListObjects(ctx, bucket, storage.ListOptions{MaxKeys: 0, Marker: "zzz"})
	if err != nil || res.IsTruncated {
		t.Fatalf("ListObjects(MaxKeys 0, at end) = %+v, %v", res, err)
	}
	if joined := joinKeys(mustList(t, b, bucket).Objects); joined != strings.Join(keys, ",") {
		t.Fatalf("objects = %s", joined)
	}
}

func mustList(t *testing.T, b *Backend, bucket string) *storage.ListResult {
	t.Helper()
	res, err := b.ListObjects(context.Background(), bucket, storage.ListOptions{MaxKeys: 5000})
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	return res
}
