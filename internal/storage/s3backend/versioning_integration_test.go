//go:build integration

package s3backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// missingVersion is a well-formed version id that no object has.
const missingVersion = "00000000-0000-0000-0000-000000000001"

// mustVersioning sets the bucket's versioning state.
func mustVersioning(t *testing.T, b *Backend, bucket string, status storage.VersioningStatus) {
	t.Helper()
	if err := b.PutBucketVersioning(context.Background(), bucket, status); err != nil {
		t.Fatalf("PutBucketVersioning(%s): %v", status, err)
	}
	got, err := b.GetBucketVersioning(context.Background(), bucket)
	if err != nil || got != status {
		t.Fatalf("GetBucketVersioning = %q, %v; want %q", got, err, status)
	}
}

// wantHeaders fails unless err is an *s3err.Error carrying every header of
// want (names compared case-insensitively).
func wantHeaders(t *testing.T, what string, err error, want map[string]string) {
	t.Helper()
	var se *s3err.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s: error %v is not an *s3err.Error", what, err)
	}
	for name, v := range want {
		found := false
		for _, kv := range se.Headers {
			if strings.EqualFold(kv[0], name) {
				found = true
				if kv[1] != v {
					t.Errorf("%s: header %s = %q, want %q", what, name, kv[1], v)
				}
			}
		}
		if !found {
			t.Errorf("%s: no header %s in %v", what, name, se.Headers)
		}
	}
}

// wantCode fails unless err is the S3 error want by code; the status is
// the upstream's (MinIO answers some of these with 400 where S3 says 404
// or 409, and the backend keeps the upstream status).
func wantCode(t *testing.T, what string, err error, want *s3err.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error = %v, want %s", what, err, want.Code)
	}
}

// wantLockRefusal fails unless err is object lock's refusal: AccessDenied
// on S3, InvalidRequest ("Object is WORM protected") on MinIO, passed
// through as the upstream sent it.
func wantLockRefusal(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, s3err.ErrAccessDenied) && !errors.Is(err, s3err.ErrInvalidRequest) {
		t.Fatalf("%s: error = %v, want AccessDenied (S3) or InvalidRequest (MinIO)", what, err)
	}
}

// versionsOf lists every version of the bucket in one page and renders
// each as "key|version|latest|marker".
func versionsOf(t *testing.T, b *Backend, bucket string, opts storage.ListVersionsOptions) []string {
	t.Helper()
	if opts.MaxKeys == 0 {
		opts.MaxKeys = 1000
	}
	res, err := b.ListObjectVersions(context.Background(), bucket, opts)
	if err != nil {
		t.Fatalf("ListObjectVersions: %v", err)
	}
	return renderVersions(res.Versions)
}

func renderVersions(vs []storage.ObjectInfo) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%s|%s|%t|%t", v.Key, v.VersionID, v.IsLatest, v.DeleteMarker))
	}
	return out
}

func TestVersioningOnMinIO(t *testing.T) {
	p := mustPathPair(t)
	b, bucket := p.fast, p.bucket
	ctx := context.Background()

	// Never versioned: state "", every object one "null" version.
	if st, err := b.GetBucketVersioning(ctx, bucket); err != nil || st != storage.VersioningOff {
		t.Fatalf("GetBucketVersioning(new) = %q, %v", st, err)
	}
	if res := mustPut(t, b, bucket, "plain", []byte("p"), storage.PutOptions{}); res.VersionID != "" {
		t.Errorf("unversioned put: VersionID %q, want none", res.VersionID)
	}
	if got, want := versionsOf(t, b, bucket, storage.ListVersionsOptions{}), []string{"plain|null|true|false"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("unversioned listing = %v, want %v", got, want)
	}

	mustVersioning(t, b, bucket, storage.VersioningEnabled)
	// Each path stores a version; both paths read each version back alike.
	v1 := mustPut(t, p.sdk, bucket, "k", []byte("one"), storage.PutOptions{}).VersionID
	v2 := mustPut(t, p.fast, bucket, "k", []byte("two"), storage.PutOptions{}).VersionID
	if v1 == "" || v2 == "" || v1 == v2 || v1 == storage.NullVersion {
		t.Fatalf("version ids %q, %q: want two distinct real ids", v1, v2)
	}
	for _, c := range []struct{ version, data, wantVersion string }{{"", "two", v2}, {v1, "one", v1}, {v2, "two", v2}} {
		obj, data, err := p.getBoth(t, "get "+c.version, "k", storage.GetOptions{VersionID: c.version})
		if err != nil || string(data) != c.data || obj.Info.VersionID != c.wantVersion {
			t.Fatalf("GET k version %q = %q (version %q), %v; want %q (%q)", c.version, data, obj.Info.VersionID, err, c.data, c.wantVersion)
		}
	}
	_, _, err := p.getBoth(t, "get missing version", "k", storage.GetOptions{VersionID: missingVersion})
	wantS3Err(t, "GET missing version", err, s3err.ErrNoSuchVersion)
	_, err = b.HeadObject(ctx, bucket, "k", storage.GetOptions{VersionID: missingVersion})
	wantS3Err(t, "HEAD missing version", err, s3err.ErrNoSuchVersion)
	// A version id that needs escaping is signed as sent: the answer is
	// about the id, not the signature.
	_, _, err = p.getBoth(t, "get odd version", "k", storage.GetOptions{VersionID: "odd id/+=&?x", PartNumber: 1})
	if err == nil || errors.Is(err, s3err.ErrSignatureDoesNotMatch) {
		t.Fatalf("GET odd version id: %v, want an answer about the id", err)
	}

	// 304 and 412 carry the upstream ETag and Last-Modified.
	info, err := b.HeadObject(ctx, bucket, "k", storage.GetOptions{})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	_, _, err = p.getBoth(t, "if-none-match", "k", storage.GetOptions{Conditions: storage.Conditions{IfNoneMatch: info.ETag}})
	wantS3Err(t, "GET If-None-Match", err, s3err.ErrNotModified)
	wantHeaders(t, "GET If-None-Match", err, map[string]string{"ETag": info.ETag, "Last-Modified": info.LastModified.UTC().Format(http.TimeFormat)})
	_, err = b.HeadObject(ctx, bucket, "k", storage.GetOptions{Conditions: storage.Conditions{IfNoneMatch: info.ETag}})
	wantS3Err(t, "HEAD If-None-Match", err, s3err.ErrNotModified)
	wantHeaders(t, "HEAD If-None-Match", err, map[string]string{"ETag": info.ETag})
	_, _, err = p.getBoth(t, "if-match", "k", storage.GetOptions{Conditions: storage.Conditions{IfMatch: `"nope"`}})
	wantS3Err(t, "GET If-Match", err, s3err.ErrPreconditionFailed)
	wantHeaders(t, "GET If-Match", err, map[string]string{"ETag": info.ETag, "Last-Modified": info.LastModified.UTC().Format(http.TimeFormat)})

	// A delete without a version id adds a marker; the key then reads as
	// NoSuchKey and the marker's version as MethodNotAllowed, both with
	// the marker's headers.
	del, err := b.DeleteObject(ctx, bucket, "k", storage.DeleteOptions{})
	if err != nil || !del.DeleteMarker || del.VersionID == "" {
		t.Fatalf("DeleteObject(k) = %+v, %v; want a delete marker", del, err)
	}
	dm := del.VersionID
	markerHeaders := map[string]string{"x-amz-delete-marker": "true", "x-amz-version-id": dm}
	_, _, err = p.getBoth(t, "get deleted", "k", storage.GetOptions{})
	wantS3Err(t, "GET deleted", err, s3err.ErrNoSuchKey)
	wantHeaders(t, "GET deleted", err, markerHeaders)
	_, err = b.HeadObject(ctx, bucket, "k", storage.GetOptions{})
	wantS3Err(t, "HEAD deleted", err, s3err.ErrNoSuchKey)
	wantHeaders(t, "HEAD deleted", err, markerHeaders)
	_, _, err = p.getBoth(t, "get marker version", "k", storage.GetOptions{VersionID: dm})
	wantS3Err(t, "GET marker version", err, s3err.ErrMethodNotAllowed)
	wantHeaders(t, "GET marker version", err, markerHeaders)
	_, err = p.sdk.HeadObject(ctx, bucket, "k", storage.GetOptions{VersionID: dm})
	wantS3Err(t, "HEAD marker version", err, s3err.ErrMethodNotAllowed)
	wantHeaders(t, "HEAD marker version", err, markerHeaders)

	want := []string{"k|" + dm + "|true|true", "k|" + v2 + "|false|false", "k|" + v1 + "|false|false", "plain|null|true|false"}
	if got := versionsOf(t, b, bucket, storage.ListVersionsOptions{}); !reflect.DeepEqual(got, want) {
		t.Fatalf("listing = %v, want %v", got, want)
	}

	// Copy from an old version; multipart and part copy report versions.
	cp, err := b.CopyObject(ctx, storage.ObjectRef{Bucket: bucket, Key: "k", VersionID: v1}, storage.ObjectRef{Bucket: bucket, Key: "copy"}, storage.CopyOptions{})
	if err != nil || cp.SourceVersionID != v1 || cp.VersionID == "" || cp.VersionID == v1 {
		t.Fatalf("CopyObject(k@v1) = %+v, %v", cp, err)
	}
	if obj, data := mustGetBytes(t, b, bucket, "copy", storage.GetOptions{}); string(data) != "one" || obj.Info.VersionID != cp.VersionID {
		t.Fatalf("copy = %q version %q", data, obj.Info.VersionID)
	}
	_, err = b.CopyObject(ctx, storage.ObjectRef{Bucket: bucket, Key: "k", VersionID: missingVersion}, storage.ObjectRef{Bucket: bucket, Key: "copy"}, storage.CopyOptions{})
	wantS3Err(t, "CopyObject(missing version)", err, s3err.ErrNoSuchVersion)
	up, err := b.CreateMultipartUpload(ctx, bucket, "mp", storage.PutOptions{})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	pc, err := b.UploadPartCopy(ctx, storage.ObjectRef{Bucket: bucket, Key: "k", VersionID: v2}, bucket, "mp", up, 1, storage.CopyPartOptions{})
	// MinIO does not send x-amz-copy-source-version-id on UploadPartCopy
	// (S3 does): the part's data below shows which version was copied.
	if err != nil || (pc.SourceVersionID != v2 && pc.SourceVersionID != "") {
		t.Fatalf("UploadPartCopy(k@v2) = %+v, %v", pc, err)
	}
	done, err := b.CompleteMultipartUpload(ctx, bucket, "mp", up, []storage.CompletedPart{{PartNumber: 1, ETag: pc.ETag}})
	if err != nil || done.VersionID == "" {
		t.Fatalf("CompleteMultipartUpload = %+v, %v; want a version id", done, err)
	}
	if obj, data := mustGetBytes(t, b, bucket, "mp", storage.GetOptions{}); string(data) != "two" || obj.Info.VersionID != done.VersionID {
		t.Fatalf("mp = %q version %q, want two / %s", data, obj.Info.VersionID, done.VersionID)
	}

	// Removing the marker brings v2 back; removing v2 makes v1 current.
	if r, err := b.DeleteObject(ctx, bucket, "k", storage.DeleteOptions{VersionID: dm}); err != nil || r.VersionID != dm || !r.DeleteMarker {
		t.Fatalf("DeleteObject(marker) = %+v, %v", r, err)
	}
	if _, data := mustGetBytes(t, b, bucket, "k", storage.GetOptions{}); string(data) != "two" {
		t.Fatalf("after removing the marker: %q", data)
	}
	if r, err := b.DeleteObject(ctx, bucket, "k", storage.DeleteOptions{VersionID: v2}); err != nil || r.VersionID != v2 || r.DeleteMarker {
		t.Fatalf("DeleteObject(v2) = %+v, %v", r, err)
	}
	if obj, data := mustGetBytes(t, b, bucket, "k", storage.GetOptions{}); string(data) != "one" || obj.Info.VersionID != v1 {
		t.Fatalf("after removing v2: %q version %q", data, obj.Info.VersionID)
	}

	// Suspended: puts write the null version, replacing it; a delete
	// replaces it with a null marker.
	mustVersioning(t, b, bucket, storage.VersioningSuspended)
	for _, data := range []string{"n1", "n2"} {
		// S3 (and MinIO) send no x-amz-version-id for a suspended put.
		if res := mustPut(t, b, bucket, "k", []byte(data), storage.PutOptions{}); res.VersionID != "" && res.VersionID != storage.NullVersion {
			t.Fatalf("suspended put: VersionID %q, want none or null", res.VersionID)
		}
	}
	want = []string{"k|null|true|false", "k|" + v1 + "|false|false"}
	if got := versionsOf(t, b, bucket, storage.ListVersionsOptions{Prefix: "k"}); !reflect.DeepEqual(got, want) {
		t.Fatalf("suspended listing = %v, want %v", got, want)
	}
	// S3 answers x-amz-delete-marker: true and x-amz-version-id: null;
	// MinIO sends neither (the listing shows the marker).
	if r, err := b.DeleteObject(ctx, bucket, "k", storage.DeleteOptions{}); err != nil || (*r != storage.DeleteResult{} && *r != storage.DeleteResult{VersionID: storage.NullVersion, DeleteMarker: true}) {
		t.Fatalf("suspended DeleteObject = %+v, %v; want a null marker", r, err)
	}
	want = []string{"k|null|true|true", "k|" + v1 + "|false|false"}
	if got := versionsOf(t, b, bucket, storage.ListVersionsOptions{Prefix: "k"}); !reflect.DeepEqual(got, want) {
		t.Fatalf("suspended listing after delete = %v, want %v", got, want)
	}
}

// TestListObjectVersionsOrderAndPagingOnMinIO builds versions and delete
// markers of awkward keys in an interleaved order and checks the listing
// against the order S3 defines (key ascending, newest first), whole and
// page by page through the opaque markers, with prefix and delimiter.
func TestListObjectVersionsOrderAndPagingOnMinIO(t *testing.T) {
	b := mustBackend(t)
	bucket := mustBucket(t, b)
	ctx := context.Background()
	mustVersioning(t, b, bucket, storage.VersioningEnabled)

	keys := []string{"a b+c", "a%2Fb", "dir/x", "dir/y", "z~"}
	// history[key] is the key's entries, oldest first.
	history := map[string][]string{}
	for round := range 3 {
		for i, k := range keys {
			// Only existing keys get markers (MinIO, unlike S3, adds none
			// for a key that never existed).
			if round > 0 && (round+i)%3 == 2 {
				r, err := b.DeleteObject(ctx, bucket, k, storage.DeleteOptions{})
				if err != nil || !r.DeleteMarker {
					t.Fatalf("DeleteObject(%s) = %+v, %v", k, r, err)
				}
				history[k] = append(history[k], r.VersionID+"|marker")
				continue
			}
			res := mustPut(t, b, bucket, k, []byte(fmt.Sprint(round)), storage.PutOptions{})
			history[k] = append(history[k], res.VersionID+"|version")
		}
	}
	var want []string
	for _, k := range keys { // already in byte order
		h := history[k]
		for i := len(h) - 1; i >= 0; i-- {
			id, kind, _ := strings.Cut(h[i], "|")
			want = append(want, fmt.Sprintf("%s|%s|%t|%t", k, id, i == len(h)-1, kind == "marker"))
		}
	}
	if got := versionsOf(t, b, bucket, storage.ListVersionsOptions{}); !reflect.DeepEqual(got, want) {
		t.Fatalf("listing:\n got  %v\n want %v", got, want)
	}

	for _, pageSize := range []int{1, 2, 4} {
		var got []string
		opts := storage.ListVersionsOptions{MaxKeys: pageSize}
		for pages := 0; ; pages++ {
			if pages > len(want) {
				t.Fatalf("page size %d: paging does not end", pageSize)
			}
			res, err := b.ListObjectVersions(ctx, bucket, opts)
			if err != nil {
				t.Fatalf("page size %d: %v", pageSize, err)
			}
			if len(res.Versions) > pageSize {
				t.Fatalf("page size %d: %d entries", pageSize, len(res.Versions))
			}
			got = append(got, renderVersions(res.Versions)...)
			if !res.IsTruncated {
				break
			}
			opts.KeyMarker, opts.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("page size %d:\n got  %v\n want %v", pageSize, got, want)
		}
	}

	res, err := b.ListObjectVersions(ctx, bucket, storage.ListVersionsOptions{Delimiter: "/", MaxKeys: 1000})
	if err != nil {
		t.Fatalf("ListObjectVersions(delimiter): %v", err)
	}
	if !reflect.DeepEqual(res.CommonPrefixes, []string{"dir/"}) {
		t.Errorf("common prefixes = %v, want [dir/]", res.CommonPrefixes)
	}
	for _, v := range res.Versions {
		if strings.HasPrefix(v.Key, "dir/") {
			t.Errorf("delimited listing holds %s", v.Key)
		}
	}
	if got := versionsOf(t, b, bucket, storage.ListVersionsOptions{Prefix: "a b"}); len(got) != len(history["a b+c"]) {
		t.Errorf("prefix listing = %v", got)
	}

	res, err = b.ListObjectVersions(ctx, bucket, storage.ListVersionsOptions{MaxKeys: 0})
	if err != nil || len(res.Versions) != 0 || len(res.CommonPrefixes) != 0 || res.IsTruncated {
		t.Errorf("max-keys 0 = %+v, %v; want an empty untruncated page", res, err)
	}
	_, err = b.ListObjectVersions(ctx, randomName("dgp-missing-"), storage.ListVersionsOptions{MaxKeys: 0})
	wantS3Err(t, "ListObjectVersions(missing bucket)", err, s3err.ErrNoSuchBucket)
}

func TestObjectLockOnMinIO(t *testing.T) {
	b := mustBackend(t)
	ctx := context.Background()

	plain := mustBucket(t, b)
	_, err := b.GetObjectLockConfiguration(ctx, plain)
	wantS3Err(t, "GetObjectLockConfiguration(plain bucket)", err, s3err.ErrObjectLockConfigurationNotFound)
	mustPut(t, b, plain, "k", []byte("x"), storage.PutOptions{})
	_, err = b.GetObjectRetention(ctx, plain, "k", "")
	wantS3Err(t, "GetObjectRetention(plain bucket)", err, s3err.ErrInvalidRequest)

	bucket := randomName("dgp-s3b-lock-")
	if err := b.CreateBucket(ctx, bucket, storage.CreateBucketOptions{ObjectLockEnabled: true}); err != nil {
		t.Fatalf("CreateBucket(lock): %v", err)
	}
	t.Cleanup(func() { removeBucket(t, b, bucket) })
	if st, err := b.GetBucketVersioning(ctx, bucket); err != nil || st != storage.VersioningEnabled {
		t.Fatalf("lock bucket versioning = %q, %v; want Enabled", st, err)
	}
	wantCode(t, "suspend a lock bucket", b.PutBucketVersioning(ctx, bucket, storage.VersioningSuspended), s3err.ErrInvalidBucketState)
	cfg, err := b.GetObjectLockConfiguration(ctx, bucket)
	if err != nil || !cfg.Enabled || cfg.Rule != nil {
		t.Fatalf("GetObjectLockConfiguration = %+v, %v; want enabled without rule", cfg, err)
	}
	rule := storage.ObjectLockConfig{Enabled: true, Rule: &storage.DefaultRetention{Mode: storage.LockGovernance, Days: 1}}
	if err := b.PutObjectLockConfiguration(ctx, bucket, rule); err != nil {
		t.Fatalf("PutObjectLockConfiguration: %v", err)
	}
	if cfg, err := b.GetObjectLockConfiguration(ctx, bucket); err != nil || !reflect.DeepEqual(*cfg, rule) {
		t.Fatalf("GetObjectLockConfiguration = %+v, %v; want %+v", cfg, err, rule)
	}
	if err := b.PutObjectLockConfiguration(ctx, bucket, storage.ObjectLockConfig{Enabled: true}); err != nil {
		t.Fatalf("PutObjectLockConfiguration(no rule): %v", err)
	}

	// An object without lock has no retention.
	data := []byte("locked data")
	free := mustPut(t, b, bucket, "free", data, storage.PutOptions{ContentMD5: md5Base64(data)})
	_, err = b.GetObjectRetention(ctx, bucket, "free", free.VersionID)
	wantCode(t, "GetObjectRetention(no retention)", err, s3err.ErrNoSuchObjectLockConfiguration)

	// A version put under retention and legal hold, on both paths.
	until := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	lock := storage.LockState{Retention: storage.Retention{Mode: storage.LockGovernance, RetainUntil: until}, LegalHold: true, LegalHoldSet: true}
	p := pathPair{fast: b, sdk: mustBackend(t), bucket: bucket}
	sdkOnly(p.sdk)
	for _, pb := range []*Backend{p.fast, p.sdk} {
		put, err := pb.PutObject(ctx, bucket, "locked", bytes.NewReader(data), int64(len(data)), storage.PutOptions{ContentMD5: md5Base64(data), Lock: lock})
		if err != nil || put.VersionID == "" {
			t.Fatalf("PutObject(locked) = %+v, %v", put, err)
		}
		obj, _, err := p.getBoth(t, "get locked", "locked", storage.GetOptions{VersionID: put.VersionID})
		if err != nil || obj.Info.Lock != lock {
			t.Fatalf("GET locked: lock %+v, %v; want %+v", obj.Info.Lock, err, lock)
		}
	}
	head, err := b.HeadObject(ctx, bucket, "locked", storage.GetOptions{})
	if err != nil {
		t.Fatalf("HeadObject(locked): %v", err)
	}
	v := head.VersionID
	if r, err := b.GetObjectRetention(ctx, bucket, "locked", v); err != nil || r.Mode != storage.LockGovernance || !r.RetainUntil.Equal(until) {
		t.Fatalf("GetObjectRetention = %+v, %v; want GOVERNANCE until %v", r, err, until)
	}
	if on, err := b.GetObjectLegalHold(ctx, bucket, "locked", v); err != nil || !on {
		t.Fatalf("GetObjectLegalHold = %t, %v; want on", on, err)
	}

	// Legal hold: no delete, even bypassing governance.
	_, err = b.DeleteObject(ctx, bucket, "locked", storage.DeleteOptions{VersionID: v, BypassGovernance: true})
	wantLockRefusal(t, "delete under legal hold", err)
	if err := b.PutObjectLegalHold(ctx, bucket, "locked", v, false); err != nil {
		t.Fatalf("PutObjectLegalHold(off): %v", err)
	}
	if on, err := b.GetObjectLegalHold(ctx, bucket, "locked", v); err != nil || on {
		t.Fatalf("GetObjectLegalHold = %t, %v; want off", on, err)
	}
	// Governance retention: no delete or shortening without the bypass.
	_, err = b.DeleteObject(ctx, bucket, "locked", storage.DeleteOptions{VersionID: v})
	wantLockRefusal(t, "delete under retention", err)
	shorter := storage.Retention{Mode: storage.LockGovernance, RetainUntil: until.Add(-time.Hour)}
	err = b.PutObjectRetention(ctx, bucket, "locked", v, shorter, false)
	wantLockRefusal(t, "shorten retention", err)
	if err := b.PutObjectRetention(ctx, bucket, "locked", v, shorter, true); err != nil {
		t.Fatalf("PutObjectRetention(bypass): %v", err)
	}
	if r, err := b.GetObjectRetention(ctx, bucket, "locked", v); err != nil || !r.RetainUntil.Equal(shorter.RetainUntil) {
		t.Fatalf("GetObjectRetention after bypass = %+v, %v", r, err)
	}
	// A delete marker is always allowed.
	if r, err := b.DeleteObject(ctx, bucket, "locked", storage.DeleteOptions{}); err != nil || !r.DeleteMarker {
		t.Fatalf("DeleteObject(locked, marker) = %+v, %v", r, err)
	}
	if r, err := b.DeleteObject(ctx, bucket, "locked", storage.DeleteOptions{VersionID: v, BypassGovernance: true}); err != nil || r.VersionID != v {
		t.Fatalf("DeleteObject(bypass) = %+v, %v", r, err)
	}

	// Lock headers on multipart uploads and copies.
	up, err := b.CreateMultipartUpload(ctx, bucket, "mp", storage.PutOptions{Lock: lock})
	if err != nil {
		t.Fatalf("CreateMultipartUpload(lock): %v", err)
	}
	part, err := b.UploadPart(ctx, bucket, "mp", up, 1, bytes.NewReader(data), int64(len(data)), storage.PartOptions{ContentMD5: md5Base64(data)})
	if err != nil {
		t.Fatalf("UploadPart: %v", err)
	}
	if _, err := b.CompleteMultipartUpload(ctx, bucket, "mp", up, []storage.CompletedPart{{PartNumber: 1, ETag: part.ETag}}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if info, err := b.HeadObject(ctx, bucket, "mp", storage.GetOptions{}); err != nil || info.Lock != lock {
		t.Fatalf("HEAD mp: lock %+v, %v; want %+v", info.Lock, err, lock)
	}
	if _, err := b.CopyObject(ctx, storage.ObjectRef{Bucket: bucket, Key: "free"}, storage.ObjectRef{Bucket: bucket, Key: "copy"}, storage.CopyOptions{Put: storage.PutOptions{Lock: lock}}); err != nil {
		t.Fatalf("CopyObject(lock): %v", err)
	}
	if info, err := b.HeadObject(ctx, bucket, "copy", storage.GetOptions{}); err != nil || info.Lock != lock {
		t.Fatalf("HEAD copy: lock %+v, %v; want %+v", info.Lock, err, lock)
	}
}
