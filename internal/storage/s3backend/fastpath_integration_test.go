//go:build integration

package s3backend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// pathPair is a backend with the fast path and one that always takes the
// SDK path, on the same MinIO.
type pathPair struct {
	fast, sdk *Backend
	bucket    string
}

func mustPathPair(t *testing.T) pathPair {
	t.Helper()
	fast, sdk := mustBackend(t), mustBackend(t)
	sdkOnly(sdk)
	bucket := mustBucket(t, fast)
	if fast.fastTarget(context.Background(), bucket, "k") == nil {
		t.Fatalf("the MinIO backend takes no fast path")
	}
	return pathPair{fast: fast, sdk: sdk, bucket: bucket}
}

// sameError fails unless both errors are nil or the same S3 error (code,
// status, message, response headers).
func sameError(t *testing.T, what string, fastErr, sdkErr error) {
	t.Helper()
	if fastErr == nil && sdkErr == nil {
		return
	}
	var fe, se *s3err.Error
	if !errors.As(fastErr, &fe) || !errors.As(sdkErr, &se) {
		t.Fatalf("%s: fast path %v, SDK path %v", what, fastErr, sdkErr)
	}
	if fe.Code != se.Code || fe.Status != se.Status || fe.Message != se.Message || !slices.Equal(fe.Headers, se.Headers) {
		t.Fatalf("%s: fast path %s/%d %q %v, SDK path %s/%d %q %v", what, fe.Code, fe.Status, fe.Message, fe.Headers, se.Code, se.Status, se.Message, se.Headers)
	}
}

// getBoth reads key with opts on both paths and fails unless they agree on
// the result (object info, length, range, bytes) or the error. It returns
// the fast path's object (Body nil) and bytes, or the error.
func (p pathPair) getBoth(t *testing.T, what, key string, opts storage.GetOptions) (*storage.Object, []byte, error) {
	t.Helper()
	ctx := context.Background()
	read := func(b *Backend) (*storage.Object, []byte, error) {
		obj, err := b.GetObject(ctx, p.bucket, key, opts)
		if err != nil {
			return nil, nil, err
		}
		data, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		obj.Body = nil
		if err != nil {
			t.Fatalf("%s: read body: %v", what, err)
		}
		return obj, data, nil
	}
	fo, fd, fe := read(p.fast)
	so, sd, se := read(p.sdk)
	sameError(t, what+": GET", fe, se)
	if fe == nil && (!reflect.DeepEqual(fo, so) || !bytes.Equal(fd, sd)) {
		t.Fatalf("%s: GET differs:\n fast %+v (%d bytes)\n sdk  %+v (%d bytes)", what, fo, len(fd), so, len(sd))
	}
	fi, fhe := p.fast.HeadObject(ctx, p.bucket, key, opts)
	si, she := p.sdk.HeadObject(ctx, p.bucket, key, opts)
	sameError(t, what+": HEAD", fhe, she)
	if fhe == nil && !reflect.DeepEqual(fi, si) {
		t.Fatalf("%s: HEAD differs:\n fast %+v\n sdk  %+v", what, fi, si)
	}
	return fo, fd, fe
}

// TestFastPathMatchesSDKPathOnMinIO stores objects with awkward keys and
// full metadata through each path and reads them back through both: the
// stored key, the data, every field of the object's info, and every error
// must be the same whichever path carried the request.
func TestFastPathMatchesSDKPathOnMinIO(t *testing.T) {
	p := mustPathPair(t)
	ctx := context.Background()
	data := randomBytes(21, 3000)
	put := storage.PutOptions{
		ContentType:  "application/x-dgp-test",
		UserMetadata: map[string]string{"owner": "alice", "Mixed-Case": "Value With Spaces"},
		Headers: map[string]string{
			"Content-Encoding": "gzip", "Content-Disposition": `attachment; filename="a.bin"`,
			"Content-Language": "en-GB", "Cache-Control": "max-age=60", "Expires": "Wed, 21 Oct 2037 07:28:00 GMT",
		},
		ContentMD5: md5Base64(data),
	}
	// check reads key back through both paths, deletes it, and returns the
	// name the object was listed under (MinIO cleans some names up, e.g.
	// "/a//b" is stored as "a/b": the two paths must store the same one).
	check := func(what, key string) string {
		t.Helper()
		obj, got, err := p.getBoth(t, what, key, storage.GetOptions{})
		if err != nil || !bytes.Equal(got, data) || obj.Info.Key != key || obj.Info.ETag != md5ETag(data) ||
			obj.Info.UserMetadata["mixed-case"] != "Value With Spaces" || obj.Info.Headers["Content-Encoding"] != "gzip" {
			t.Fatalf("%s: read back %+v, %v", what, obj, err)
		}
		res, err := p.sdk.ListObjects(ctx, p.bucket, storage.ListOptions{MaxKeys: 1000})
		if err != nil {
			t.Fatalf("ListObjects: %v", err)
		}
		if len(res.Objects) != 1 {
			t.Fatalf("%s: stored as [%s]", what, joinKeys(res.Objects))
		}
		if _, err := p.sdk.DeleteObject(ctx, p.bucket, key, storage.DeleteOptions{}); err != nil {
			t.Fatalf("DeleteObject: %v", err)
		}
		return res.Objects[0].Key
	}
	accepted := 0
	for _, key := range awkwardKeys {
		fr, fe := p.fast.PutObject(ctx, p.bucket, key, bytes.NewReader(data), int64(len(data)), put)
		var fastName string
		if fe == nil {
			fastName = check("fast put "+key, key)
		}
		sr, se := p.sdk.PutObject(ctx, p.bucket, key, bytes.NewReader(data), int64(len(data)), put)
		sameError(t, "put "+key, fe, se)
		if se != nil {
			t.Logf("put %q: refused on both paths: %v", key, se)
			continue
		}
		if *fr != *sr {
			t.Fatalf("put %q: PutResult fast %+v, sdk %+v", key, fr, sr)
		}
		if sdkName := check("sdk put "+key, key); sdkName != fastName {
			t.Fatalf("put %q: stored as %q by the fast path, %q by the SDK path", key, fastName, sdkName)
		} else if sdkName != key {
			t.Logf("put %q: stored as %q on both paths", key, sdkName)
		}
		accepted++
	}
	if accepted < len(awkwardKeys)-3 {
		t.Fatalf("only %d of %d awkward keys were accepted", accepted, len(awkwardKeys))
	}

	// Errors of writes: a wrong Content-MD5, conditional puts.
	bad := put
	bad.ContentMD5 = md5Base64([]byte("other"))
	_, fe := p.fast.PutObject(ctx, p.bucket, "md5", bytes.NewReader(data), int64(len(data)), bad)
	_, se := p.sdk.PutObject(ctx, p.bucket, "md5", bytes.NewReader(data), int64(len(data)), bad)
	wantS3Err(t, "fast put with a wrong Content-MD5", fe, s3err.ErrBadDigest)
	sameError(t, "put with a wrong Content-MD5", fe, se)
	first := mustPut(t, p.sdk, p.bucket, "cond", []byte("v1"), storage.PutOptions{})
	for _, c := range []storage.PutOptions{{IfNoneMatch: "*"}, {IfMatch: `"0123"`}} {
		_, fe := p.fast.PutObject(ctx, p.bucket, "cond", bytes.NewReader([]byte("v2")), 2, c)
		_, se := p.sdk.PutObject(ctx, p.bucket, "cond", bytes.NewReader([]byte("v2")), 2, c)
		wantS3Err(t, "fast conditional put", fe, s3err.ErrPreconditionFailed)
		sameError(t, "conditional put", fe, se)
	}
	if _, err := p.fast.PutObject(ctx, p.bucket, "cond", bytes.NewReader([]byte("v2")), 2, storage.PutOptions{IfMatch: first.ETag}); err != nil {
		t.Fatalf("fast put If-Match current: %v", err)
	}
}

// TestFastPathReadsMatchSDKPathOnMinIO compares ranges, conditions, part
// numbers and missing objects or buckets between the two paths.
func TestFastPathReadsMatchSDKPathOnMinIO(t *testing.T) {
	p := mustPathPair(t)
	ctx := context.Background()
	data := randomBytes(22, 1000)
	res := mustPut(t, p.sdk, p.bucket, "obj", data, storage.PutOptions{ContentType: "text/plain"})
	info, err := p.sdk.HeadObject(ctx, p.bucket, "obj", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, after := info.LastModified.Add(-time.Hour), info.LastModified.Add(time.Hour)

	tests := []struct {
		name string
		key  string
		opts storage.GetOptions
		want *s3err.Error // nil = served
	}{
		{"whole", "obj", storage.GetOptions{}, nil},
		{"first bytes", "obj", storage.GetOptions{Range: &storage.Range{Start: 0, End: 9}}, nil},
		{"open end", "obj", storage.GetOptions{Range: &storage.Range{Start: 990, End: -1}}, nil},
		{"suffix", "obj", storage.GetOptions{Range: &storage.Range{Start: -1, End: 5}}, nil},
		{"end past size", "obj", storage.GetOptions{Range: &storage.Range{Start: 500, End: 5000}}, nil},
		{"start past size", "obj", storage.GetOptions{Range: &storage.Range{Start: 5000, End: 6000}}, s3err.ErrInvalidRange},
		{"if-match current", "obj", storage.GetOptions{Conditions: storage.Conditions{IfMatch: res.ETag}}, nil},
		{"if-match other", "obj", storage.GetOptions{Conditions: storage.Conditions{IfMatch: `"0123"`}}, s3err.ErrPreconditionFailed},
		{"if-none-match current", "obj", storage.GetOptions{Conditions: storage.Conditions{IfNoneMatch: res.ETag}}, s3err.ErrNotModified},
		{"if-none-match star", "obj", storage.GetOptions{Conditions: storage.Conditions{IfNoneMatch: "*"}}, s3err.ErrNotModified},
		{"if-modified-since after", "obj", storage.GetOptions{Conditions: storage.Conditions{IfModifiedSince: after}}, s3err.ErrNotModified},
		{"if-modified-since before", "obj", storage.GetOptions{Conditions: storage.Conditions{IfModifiedSince: before}}, nil},
		{"if-unmodified-since before", "obj", storage.GetOptions{Conditions: storage.Conditions{IfUnmodifiedSince: before}}, s3err.ErrPreconditionFailed},
		{"if-unmodified-since after, range", "obj", storage.GetOptions{Conditions: storage.Conditions{IfUnmodifiedSince: after}, Range: &storage.Range{Start: 1, End: 2}}, nil},
		{"part 1", "obj", storage.GetOptions{PartNumber: 1}, nil},
		{"missing key", "missing", storage.GetOptions{}, s3err.ErrNoSuchKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := p.getBoth(t, tt.name, tt.key, tt.opts)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("GET: %v", err)
				}
				return
			}
			wantS3Err(t, "GET", err, tt.want)
		})
	}

	missing := randomName("dgp-s3b-missing-")
	_, fe := p.fast.GetObject(ctx, missing, "k", storage.GetOptions{})
	_, se := p.sdk.GetObject(ctx, missing, "k", storage.GetOptions{})
	wantS3Err(t, "fast GET in a missing bucket", fe, s3err.ErrNoSuchBucket)
	sameError(t, "GET in a missing bucket", fe, se)
	_, fe = p.fast.PutObject(ctx, missing, "k", bytes.NewReader([]byte("x")), 1, storage.PutOptions{})
	_, se = p.sdk.PutObject(ctx, missing, "k", bytes.NewReader([]byte("x")), 1, storage.PutOptions{})
	wantS3Err(t, "fast PUT in a missing bucket", fe, s3err.ErrNoSuchBucket)
	sameError(t, "PUT in a missing bucket", fe, se)
}

// TestFastPathMultipartOnMinIO uploads parts through the fast path into an
// upload the SDK path started and completes it; the object reads back with
// the parts' bytes, and part reads agree between the paths.
func TestFastPathMultipartOnMinIO(t *testing.T) {
	p := mustPathPair(t)
	ctx := context.Background()
	key := "multi part/ü+object"
	uploadID, err := p.sdk.CreateMultipartUpload(ctx, p.bucket, key, storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part1, part2 := randomBytes(23, 5<<20), []byte("last part")
	r1, err := p.fast.UploadPart(ctx, p.bucket, key, uploadID, 1, onlyReader{bytes.NewReader(part1)}, int64(len(part1)), storage.PartOptions{ContentMD5: md5Base64(part1)})
	if err != nil || r1.ETag != md5ETag(part1) {
		t.Fatalf("fast UploadPart(1) = %+v, %v", r1, err)
	}
	r2, err := p.sdk.UploadPart(ctx, p.bucket, key, uploadID, 2, bytes.NewReader(part2), int64(len(part2)), storage.PartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, fe := p.fast.UploadPart(ctx, p.bucket, key, uploadID, 3, bytes.NewReader([]byte("abc")), 3, storage.PartOptions{ContentMD5: md5Base64([]byte("xyz"))})
	_, se := p.sdk.UploadPart(ctx, p.bucket, key, uploadID, 3, bytes.NewReader([]byte("abc")), 3, storage.PartOptions{ContentMD5: md5Base64([]byte("xyz"))})
	wantS3Err(t, "fast UploadPart(wrong Content-MD5)", fe, s3err.ErrBadDigest)
	sameError(t, "UploadPart(wrong Content-MD5)", fe, se)
	_, fe = p.fast.UploadPart(ctx, p.bucket, key, "no-such-upload", 1, bytes.NewReader([]byte("abc")), 3, storage.PartOptions{})
	_, se = p.sdk.UploadPart(ctx, p.bucket, key, "no-such-upload", 1, bytes.NewReader([]byte("abc")), 3, storage.PartOptions{})
	wantS3Err(t, "fast UploadPart(unknown upload)", fe, s3err.ErrNoSuchUpload)
	sameError(t, "UploadPart(unknown upload)", fe, se)

	if _, err := p.sdk.CompleteMultipartUpload(ctx, p.bucket, key, uploadID, []storage.CompletedPart{
		{PartNumber: 1, ETag: r1.ETag}, {PartNumber: 2, ETag: r2.ETag}}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	_, got, err := p.getBoth(t, "multipart object", key, storage.GetOptions{})
	if err != nil || !bytes.Equal(got, append(slices.Clone(part1), part2...)) {
		t.Fatalf("multipart object: %d bytes, %v", len(got), err)
	}
	for _, pn := range []int{1, 2} {
		obj, got, err := p.getBoth(t, "part", key, storage.GetOptions{PartNumber: pn})
		if err != nil || obj.ContentRange == "" {
			t.Fatalf("part %d: %+v, %v", pn, obj, err)
		}
		want := part1
		if pn == 2 {
			want = part2
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("part %d: %d bytes", pn, len(got))
		}
	}
}
