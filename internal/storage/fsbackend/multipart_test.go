package fsbackend

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

const mib = 1 << 20

// pattern returns n bytes that differ from position to position.
func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) + seed
	}
	return p
}

// multipartETag computes S3's ETag of a multipart object independently.
func multipartETag(parts ...[]byte) string {
	var all []byte
	for _, p := range parts {
		s := md5.Sum(p)
		all = append(all, s[:]...)
	}
	s := md5.Sum(all)
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(s[:]), len(parts))
}

// part names a part in a complete request.
func part(n int, etag string) storage.CompletedPart {
	return storage.CompletedPart{PartNumber: n, ETag: etag}
}

func mustUpload(t *testing.T, b *Backend, bucket, key, id string, n int, data []byte) string {
	t.Helper()
	res, err := b.UploadPart(context.Background(), bucket, key, id, n, bytes.NewReader(data), int64(len(data)), storage.PartOptions{})
	if err != nil {
		t.Fatalf("UploadPart %d: %v", n, err)
	}
	return res.ETag
}

func TestMultipartHappyPath(t *testing.T) {
	b, clk := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	src := pattern(6*mib, 3)
	if _, err := b.PutObject(ctx, "bkt", "source", bytes.NewReader(src), int64(len(src)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	opts := storage.PutOptions{ContentType: "video/mp4", UserMetadata: map[string]string{"k": "v"}, Headers: map[string]string{"Content-Encoding": "identity"}}
	id, err := b.CreateMultipartUpload(ctx, "bkt", "big/file", opts)
	if err != nil {
		t.Fatal(err)
	}
	p1 := pattern(5*mib, 1)
	p2 := src[10 : 10+5*mib+1]
	p3 := []byte("tail")
	sum1 := md5.Sum(p1)
	res1, err := b.UploadPart(ctx, "bkt", "big/file", id, 1, bytes.NewReader(p1), int64(len(p1)),
		storage.PartOptions{ContentMD5: base64.StdEncoding.EncodeToString(sum1[:])})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := b.UploadPartCopy(ctx, storage.ObjectRef{Bucket: "bkt", Key: "source"}, "bkt", "big/file", id, 2,
		storage.CopyPartOptions{Range: &storage.Range{Start: 10, End: 10 + 5*mib}})
	if err != nil {
		t.Fatal(err)
	}
	e3 := mustUpload(t, b, "bkt", "big/file", id, 3, p3)
	if res1.ETag != md5ETag(string(p1)) || cp.ETag != md5ETag(string(p2)) || e3 != md5ETag("tail") {
		t.Fatalf("part ETags %s %s %s", res1.ETag, cp.ETag, e3)
	}

	parts, err := b.ListParts(ctx, "bkt", "big/file", id, storage.ListPartsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts.Parts) != 3 || parts.IsTruncated || parts.Parts[1].Size != int64(len(p2)) || parts.Parts[2].ETag != e3 {
		t.Fatalf("ListParts = %+v", parts)
	}
	ups, err := b.ListMultipartUploads(ctx, "bkt", storage.ListUploadsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 1 || ups.Uploads[0].Key != "big/file" || ups.Uploads[0].UploadID != id || !ups.Uploads[0].Initiated.Equal(clk.Now()) {
		t.Fatalf("ListMultipartUploads = %+v", ups)
	}

	clk.Advance(time.Minute)
	done, err := b.CompleteMultipartUpload(ctx, "bkt", "big/file", id, []storage.CompletedPart{
		{PartNumber: 1, ETag: res1.ETag}, {PartNumber: 2, ETag: strings.Trim(cp.ETag, `"`)}, {PartNumber: 3, ETag: e3},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := multipartETag(p1, p2, p3); done.ETag != want {
		t.Fatalf("ETag = %s, want %s", done.ETag, want)
	}
	whole := slices.Concat(p1, p2, p3)
	if got := mustGet(t, b, "bkt", "big/file"); got != string(whole) {
		t.Fatal("completed object data differs")
	}
	info, err := b.HeadObject(ctx, "bkt", "big/file", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != done.ETag || info.Size != int64(len(whole)) || info.ContentType != "video/mp4" ||
		info.UserMetadata["k"] != "v" || info.Headers["Content-Encoding"] != "identity" || !info.LastModified.Equal(clk.Now()) {
		t.Fatalf("completed info = %+v", info)
	}
	// GET ?partNumber serves the part.
	obj, err := b.GetObject(ctx, "bkt", "big/file", storage.GetOptions{PartNumber: 2})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(obj.Body)
	_ = obj.Body.Close()
	if !bytes.Equal(got, p2) || obj.ContentRange != fmt.Sprintf("bytes %d-%d/%d", len(p1), len(p1)+len(p2)-1, len(whole)) {
		t.Fatalf("part 2: %d bytes, range %q", len(got), obj.ContentRange)
	}
	_, err = b.GetObject(ctx, "bkt", "big/file", storage.GetOptions{PartNumber: 4})
	wantErr(t, err, s3err.ErrInvalidPartNumber)
	// A copy keeps the ETag and the part layout.
	if _, err := b.CopyObject(ctx, storage.ObjectRef{Bucket: "bkt", Key: "big/file"}, storage.ObjectRef{Bucket: "bkt", Key: "copy"}, storage.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err = b.GetObject(ctx, "bkt", "copy", storage.GetOptions{PartNumber: 3})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(obj.Body)
	_ = obj.Body.Close()
	if string(got) != "tail" || obj.Info.ETag != done.ETag {
		t.Fatalf("copy part 3 = %q, ETag %s", got, obj.Info.ETag)
	}

	// The upload is gone.
	_, err = b.ListParts(ctx, "bkt", "big/file", id, storage.ListPartsOptions{})
	wantErr(t, err, s3err.ErrNoSuchUpload)
	_, err = b.CompleteMultipartUpload(ctx, "bkt", "big/file", id, []storage.CompletedPart{{PartNumber: 1, ETag: res1.ETag}})
	wantErr(t, err, s3err.ErrNoSuchUpload)
	ups, _ = b.ListMultipartUploads(ctx, "bkt", storage.ListUploadsOptions{})
	if len(ups.Uploads) != 0 {
		t.Fatalf("uploads after complete: %+v", ups.Uploads)
	}
	assertStagingEmpty(t, b)
}

func TestMultipartSinglePartAnySize(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	id, err := b.CreateMultipartUpload(ctx, "bkt", "k", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := mustUpload(t, b, "bkt", "k", id, 7, nil)
	res, err := b.CompleteMultipartUpload(ctx, "bkt", "k", id, []storage.CompletedPart{{PartNumber: 7, ETag: e}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ETag != multipartETag(nil) || mustGet(t, b, "bkt", "k") != "" {
		t.Fatalf("ETag %s", res.ETag)
	}
}

func TestMultipartCompleteRejections(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	id, err := b.CreateMultipartUpload(ctx, "bkt", "k", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	big := pattern(5*mib, 9)
	e1 := mustUpload(t, b, "bkt", "k", id, 1, big)
	e2 := mustUpload(t, b, "bkt", "k", id, 2, []byte("small"))
	e3 := mustUpload(t, b, "bkt", "k", id, 3, []byte("last"))

	tests := []struct {
		name  string
		key   string
		parts []storage.CompletedPart
		want  error
	}{
		{"no parts", "k", nil, s3err.ErrInvalidRequest},
		{"descending", "k", []storage.CompletedPart{part(2, e2), part(1, e1)}, s3err.ErrInvalidPartOrder},
		{"duplicate", "k", []storage.CompletedPart{part(1, e1), part(1, e1)}, s3err.ErrInvalidPartOrder},
		{"missing part", "k", []storage.CompletedPart{part(1, e1), part(4, e3)}, s3err.ErrInvalidPart},
		{"wrong etag", "k", []storage.CompletedPart{part(1, e2)}, s3err.ErrInvalidPart},
		{"part zero", "k", []storage.CompletedPart{part(0, e1)}, s3err.ErrInvalidPart},
		{"part too large", "k", []storage.CompletedPart{part(10001, e1)}, s3err.ErrInvalidPart},
		{"small part not last", "k", []storage.CompletedPart{part(1, e1), part(2, e2), part(3, e3)}, s3err.ErrEntityTooSmall},
		{"wrong key", "other", []storage.CompletedPart{part(1, e1)}, s3err.ErrNoSuchUpload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.CompleteMultipartUpload(ctx, "bkt", tt.key, id, tt.parts)
			wantErr(t, err, tt.want)
			_, err = b.HeadObject(ctx, "bkt", "k", storage.GetOptions{})
			wantErr(t, err, s3err.ErrNoSuchKey)
			parts, err := b.ListParts(ctx, "bkt", "k", id, storage.ListPartsOptions{})
			if err != nil || len(parts.Parts) != 3 {
				t.Fatalf("upload damaged by a rejected complete: %+v, %v", parts, err)
			}
		})
	}
	assertStagingEmpty(t, b)
	// The upload still completes with a valid list (parts may be skipped).
	res, err := b.CompleteMultipartUpload(ctx, "bkt", "k", id, []storage.CompletedPart{part(1, e1), part(3, e3)})
	if err != nil {
		t.Fatal(err)
	}
	if res.ETag != multipartETag(big, []byte("last")) || mustGet(t, b, "bkt", "k") != string(big)+"last" {
		t.Fatal("completed object differs")
	}
}

func TestUploadPartRejections(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	mustPut(t, b, "bkt", "src", "0123456789")
	id, err := b.CreateMultipartUpload(ctx, "bkt", "k", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	up := func(n int, body io.Reader, size int64, md5 string) error {
		_, err := b.UploadPart(ctx, "bkt", "k", id, n, body, size, storage.PartOptions{ContentMD5: md5})
		return err
	}
	wantErr(t, up(0, strings.NewReader("x"), 1, ""), s3err.ErrInvalidArgument)
	wantErr(t, up(10001, strings.NewReader("x"), 1, ""), s3err.ErrInvalidArgument)
	wantErr(t, up(1, strings.NewReader("x"), 1, base64.StdEncoding.EncodeToString(make([]byte, 16))), s3err.ErrBadDigest)
	wantErr(t, up(1, failAfter([]byte("xyz"), errBodyBroken), 10, ""), errBodyBroken)
	wantErr(t, up(1, strings.NewReader("x"), 2, ""), s3err.ErrIncompleteBody)
	_, err = b.UploadPart(ctx, "bkt", "other-key", id, 1, strings.NewReader("x"), 1, storage.PartOptions{})
	wantErr(t, err, s3err.ErrNoSuchUpload)
	_, err = b.UploadPart(ctx, "nobucket", "k", id, 1, strings.NewReader("x"), 1, storage.PartOptions{})
	wantErr(t, err, s3err.ErrNoSuchBucket)

	copyPart := func(src string, r *storage.Range, c storage.Conditions) error {
		_, err := b.UploadPartCopy(ctx, storage.ObjectRef{Bucket: "bkt", Key: src}, "bkt", "k", id, 2, storage.CopyPartOptions{Range: r, Conditions: c})
		return err
	}
	wantErr(t, copyPart("src", &storage.Range{Start: 5, End: 10}, storage.Conditions{}), s3err.ErrInvalidArgument)
	wantErr(t, copyPart("src", &storage.Range{Start: -1, End: 3}, storage.Conditions{}), s3err.ErrInvalidArgument)
	wantErr(t, copyPart("src", &storage.Range{Start: 3, End: -1}, storage.Conditions{}), s3err.ErrInvalidArgument)
	wantErr(t, copyPart("nope", nil, storage.Conditions{}), s3err.ErrNoSuchKey)
	wantErr(t, copyPart("src", nil, storage.Conditions{IfMatch: `"x"`}), s3err.ErrPreconditionFailed)
	wantErr(t, copyPart("src", nil, storage.Conditions{IfNoneMatch: md5ETag("0123456789")}), s3err.ErrPreconditionFailed)

	parts, err := b.ListParts(ctx, "bkt", "k", id, storage.ListPartsOptions{})
	if err != nil || len(parts.Parts) != 0 {
		t.Fatalf("rejected parts were stored: %+v, %v", parts, err)
	}
	// A whole-range copy and a replaced part.
	wantErr(t, copyPart("src", &storage.Range{Start: 0, End: 9}, storage.Conditions{}), nil)
	mustUpload(t, b, "bkt", "k", id, 2, []byte("replaced"))
	parts, _ = b.ListParts(ctx, "bkt", "k", id, storage.ListPartsOptions{})
	if len(parts.Parts) != 1 || parts.Parts[0].ETag != md5ETag("replaced") || parts.Parts[0].Size != 8 {
		t.Fatalf("replaced part: %+v", parts.Parts)
	}
	assertStagingEmpty(t, b)
}

func TestAbortMultipartUpload(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	id, err := b.CreateMultipartUpload(ctx, "bkt", "k", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mustUpload(t, b, "bkt", "k", id, 1, []byte("x"))
	wantErr(t, b.AbortMultipartUpload(ctx, "bkt", "k", id), nil)
	wantErr(t, b.AbortMultipartUpload(ctx, "bkt", "k", id), s3err.ErrNoSuchUpload)
	_, err = b.UploadPart(ctx, "bkt", "k", id, 2, strings.NewReader("x"), 1, storage.PartOptions{})
	wantErr(t, err, s3err.ErrNoSuchUpload)
	if names, _ := b.readNames(multipartDir + "/bkt"); len(names) != 0 {
		t.Fatalf("upload directory left: %q", names)
	}
	_, err = b.CreateMultipartUpload(ctx, "nobucket", "k", storage.PutOptions{})
	wantErr(t, err, s3err.ErrNoSuchBucket)
	_, err = b.ListMultipartUploads(ctx, "nobucket", storage.ListUploadsOptions{})
	wantErr(t, err, s3err.ErrNoSuchBucket)
}

func TestListPartsPaging(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	id, err := b.CreateMultipartUpload(ctx, "bkt", "k", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{5, 1, 3, 2, 10000} {
		mustUpload(t, b, "bkt", "k", id, n, []byte(fmt.Sprint(n)))
	}
	var got []int
	marker, pages := 0, 0
	for {
		res, err := b.ListParts(ctx, "bkt", "k", id, storage.ListPartsOptions{PartNumberMarker: marker, MaxParts: 2})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range res.Parts {
			got = append(got, p.PartNumber)
			if p.ETag != md5ETag(fmt.Sprint(p.PartNumber)) {
				t.Fatalf("part %d ETag %s", p.PartNumber, p.ETag)
			}
		}
		if !res.IsTruncated {
			break
		}
		if res.NextPartNumberMarker != got[len(got)-1] {
			t.Fatalf("NextPartNumberMarker = %d", res.NextPartNumberMarker)
		}
		marker = res.NextPartNumberMarker
	}
	if !slices.Equal(got, []int{1, 2, 3, 5, 10000}) || pages != 3 {
		t.Fatalf("parts %v in %d pages", got, pages)
	}
}

func TestListMultipartUploads(t *testing.T) {
	b, clk := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	type up struct{ key, id string }
	var ups []up
	for _, k := range []string{"b", "a/2", "c/x/y", "a/1", "b", "d"} {
		clk.Advance(time.Second)
		id, err := b.CreateMultipartUpload(ctx, "bkt", k, storage.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, up{k, id})
	}
	// Sorted by key, then initiation: the two "b" uploads in creation order.
	want := []up{ups[3], ups[1], ups[0], ups[4], ups[2], ups[5]}
	flat := func(res *storage.ListUploadsResult) []up {
		var out []up
		for _, u := range res.Uploads {
			out = append(out, up{u.Key, u.UploadID})
		}
		return out
	}

	all, err := b.ListMultipartUploads(ctx, "bkt", storage.ListUploadsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(flat(all), want) || all.IsTruncated {
		t.Fatalf("all = %+v", all)
	}
	// Paging by two with key and upload-id markers.
	var paged []up
	o := storage.ListUploadsOptions{MaxUploads: 2}
	for {
		res, err := b.ListMultipartUploads(ctx, "bkt", o)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, flat(res)...)
		if !res.IsTruncated {
			break
		}
		o.KeyMarker, o.UploadIDMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("paged = %v, want %v", paged, want)
	}
	// Key marker alone skips that key entirely.
	res, _ := b.ListMultipartUploads(ctx, "bkt", storage.ListUploadsOptions{KeyMarker: "b"})
	if !slices.Equal(flat(res), []up{ups[2], ups[5]}) {
		t.Fatalf("key-marker b: %v", flat(res))
	}
	// Delimiter and prefix.
	res, _ = b.ListMultipartUploads(ctx, "bkt", storage.ListUploadsOptions{Delimiter: "/"})
	if !slices.Equal(res.CommonPrefixes, []string{"a/", "c/"}) || !slices.Equal(flat(res), []up{ups[0], ups[4], ups[5]}) {
		t.Fatalf("delimiter: %v %v", res.CommonPrefixes, flat(res))
	}
	res, _ = b.ListMultipartUploads(ctx, "bkt", storage.ListUploadsOptions{Prefix: "c/", Delimiter: "/"})
	if !slices.Equal(res.CommonPrefixes, []string{"c/x/"}) || len(res.Uploads) != 0 {
		t.Fatalf("prefix c/: %v %v", res.CommonPrefixes, flat(res))
	}
	res, _ = b.ListMultipartUploads(ctx, "bkt", storage.ListUploadsOptions{Delimiter: "/", MaxUploads: 1})
	if !slices.Equal(res.CommonPrefixes, []string{"a/"}) || !res.IsTruncated || res.NextKeyMarker != "a/" || res.NextUploadIDMarker != "" {
		t.Fatalf("truncated on a prefix: %+v", res)
	}
	res, _ = b.ListMultipartUploads(ctx, "bkt", storage.ListUploadsOptions{Delimiter: "/", KeyMarker: "a/"})
	if len(res.CommonPrefixes) != 1 || res.CommonPrefixes[0] != "c/" {
		t.Fatalf("after prefix marker: %+v", res)
	}
}
