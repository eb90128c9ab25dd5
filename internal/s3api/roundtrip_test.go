package s3api

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestRoundTrip runs every operation through the AWS SDK, path-style and
// virtual-host style, over plain HTTP and TLS (where the SDK streams
// aws-chunked bodies with trailing checksums).
func TestRoundTrip(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		e := newTestEnv(t, useTLS)
		for _, vhost := range []bool{false, true} {
			name := map[bool]string{false: "http", true: "https"}[useTLS] + "/" + map[bool]string{false: "path", true: "vhost"}[vhost]
			t.Run(name, func(t *testing.T) {
				bucket := strings.ReplaceAll("rt-"+name, "/", "-")
				roundTrip(t, e.client(rootAK, rootSK, vhost), bucket, useTLS)
				if vhost && !e.seen.host(bucket+".") {
					t.Fatalf("no virtual-host request for %s reached the server", bucket)
				}
			})
		}
		// Over TLS the SDK streams unseekable uploads (aws-chunked with a
		// trailing checksum); over plain HTTP it signs the payload hash.
		if streamed := e.seen.hash("STREAMING-UNSIGNED-PAYLOAD-TRAILER"); streamed != useTLS {
			t.Errorf("tls=%v: streaming uploads seen = %v", useTLS, streamed)
		}
	}
}

// unseekable hides Seek, so the SDK must stream the body.
type unseekable struct{ io.Reader }

func roundTrip(t *testing.T, c *s3.Client, bucket string, streaming bool) {
	ctx := context.Background()
	b := aws.String(bucket)

	// Buckets.
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b,
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}})
	must(t, err, "create bucket")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
	if code := errCode(err); code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
		t.Fatalf("second create: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: b})
	must(t, err, "head bucket")
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: b})
	must(t, err, "location")
	if loc.LocationConstraint != "" {
		t.Fatalf("location %q, want empty (us-east-1)", loc.LocationConstraint)
	}
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	must(t, err, "list buckets")
	if !slices.ContainsFunc(lb.Buckets, func(x types.Bucket) bool { return aws.ToString(x.Name) == bucket && x.CreationDate != nil }) {
		t.Fatalf("bucket %s not listed", bucket)
	}
	if aws.ToString(lb.Owner.DisplayName) != "root" {
		t.Fatalf("owner %+v", lb.Owner)
	}

	// PutObject / GetObject / HeadObject with metadata.
	key := "dir/obj one+ü.txt"
	data := pattern(10000)
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: b, Key: aws.String(key), Body: bytes.NewReader(data),
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"color": "blue", "Mixed-Case": "v"},
		CacheControl: aws.String("max-age=60"), ContentDisposition: aws.String(`attachment; filename="x.txt"`),
		ContentLanguage: aws.String("de"), ContentEncoding: aws.String("br"), Expires: aws.Time(expires),
	})
	must(t, err, "put")
	etag := aws.ToString(put.ETag)
	if len(etag) != 34 || etag[0] != '"' {
		t.Fatalf("put etag %q", etag)
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(key)})
	must(t, err, "get")
	if got := readAll(t, get.Body); !bytes.Equal(got, data) {
		t.Fatalf("get body: %d bytes, want %d", len(got), len(data))
	}
	checkMeta := func(what string, ct, cc, cd, cl, ce *string, ex *time.Time, meta map[string]string, et *string, n *int64) {
		t.Helper()
		if aws.ToString(ct) != "text/plain" || aws.ToString(cc) != "max-age=60" || aws.ToString(cd) != `attachment; filename="x.txt"` ||
			aws.ToString(cl) != "de" || aws.ToString(ce) != "br" || ex == nil || !ex.Equal(expires) ||
			meta["color"] != "blue" || meta["mixed-case"] != "v" || aws.ToString(et) != etag || aws.ToInt64(n) != int64(len(data)) {
			t.Fatalf("%s metadata: ct=%q cc=%q cd=%q cl=%q ce=%q ex=%v meta=%v etag=%q len=%d", what,
				aws.ToString(ct), aws.ToString(cc), aws.ToString(cd), aws.ToString(cl), aws.ToString(ce), ex, meta, aws.ToString(et), aws.ToInt64(n))
		}
	}
	//lint:ignore SA1019 Expires is deprecated for ExpiresString, but it is the parsed header this test checks
	checkMeta("get", get.ContentType, get.CacheControl, get.ContentDisposition, get.ContentLanguage, get.ContentEncoding, get.Expires, get.Metadata, get.ETag, get.ContentLength)
	if get.LastModified == nil || time.Since(*get.LastModified) > time.Hour {
		t.Fatalf("last modified %v", get.LastModified)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key)})
	must(t, err, "head")
	if streaming {
		// aws-chunked upload with a trailing checksum; the object is the same.
		sp, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("streamed"),
			Body: unseekable{bytes.NewReader(data)}, ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("text/plain")})
		must(t, err, "streamed put")
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("streamed")})
		must(t, err, "get streamed")
		if got := readAll(t, g.Body); !bytes.Equal(got, data) || aws.ToString(sp.ETag) != etag || aws.ToString(g.ContentEncoding) != "" {
			t.Fatalf("streamed object: %d bytes, etag %q, content-encoding %q", len(got), aws.ToString(sp.ETag), aws.ToString(g.ContentEncoding))
		}
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("streamed")})
		must(t, err, "delete streamed")
	}
	//lint:ignore SA1019 as above
	checkMeta("head", head.ContentType, head.CacheControl, head.ContentDisposition, head.ContentLanguage, head.ContentEncoding, head.Expires, head.Metadata, head.ETag, head.ContentLength)
	lastMod := *head.LastModified

	// Ranges.
	for _, tc := range []struct {
		rng, contentRange string
		want              []byte
	}{
		{"bytes=10-19", "bytes 10-19/10000", data[10:20]},
		{"bytes=9995-", "bytes 9995-9999/10000", data[9995:]},
		{"bytes=-5", "bytes 9995-9999/10000", data[9995:]},
		{"bytes=9990-20000", "bytes 9990-9999/10000", data[9990:]},
	} {
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(key), Range: aws.String(tc.rng)})
		must(t, err, "range "+tc.rng)
		if got := readAll(t, g.Body); !bytes.Equal(got, tc.want) || aws.ToString(g.ContentRange) != tc.contentRange || aws.ToInt64(g.ContentLength) != int64(len(tc.want)) {
			t.Fatalf("range %s: %d bytes, Content-Range %q, Content-Length %d", tc.rng, len(got), aws.ToString(g.ContentRange), aws.ToInt64(g.ContentLength))
		}
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(key), Range: aws.String("bytes=10000-")})
	wantCode(t, err, "InvalidRange", "unsatisfiable range")

	// Conditional GETs.
	for _, tc := range []struct {
		name   string
		in     s3.GetObjectInput
		status int
	}{
		{"if-match ok", s3.GetObjectInput{IfMatch: aws.String(etag)}, 200},
		{"if-match wrong", s3.GetObjectInput{IfMatch: aws.String(`"0000"`)}, 412},
		{"if-none-match hit", s3.GetObjectInput{IfNoneMatch: aws.String(etag)}, 304},
		{"if-none-match miss", s3.GetObjectInput{IfNoneMatch: aws.String(`"0000"`)}, 200},
		{"if-modified-since later", s3.GetObjectInput{IfModifiedSince: aws.Time(lastMod.Add(time.Hour))}, 304},
		{"if-modified-since earlier", s3.GetObjectInput{IfModifiedSince: aws.Time(lastMod.Add(-time.Hour))}, 200},
		{"if-unmodified-since earlier", s3.GetObjectInput{IfUnmodifiedSince: aws.Time(lastMod.Add(-time.Hour))}, 412},
		{"if-unmodified-since later", s3.GetObjectInput{IfUnmodifiedSince: aws.Time(lastMod.Add(time.Hour))}, 200},
	} {
		in := tc.in
		in.Bucket, in.Key = b, aws.String(key)
		g, err := c.GetObject(ctx, &in)
		if tc.status == 200 {
			must(t, err, tc.name)
			if got := readAll(t, g.Body); !bytes.Equal(got, data) {
				t.Fatalf("%s: body mismatch", tc.name)
			}
			continue
		}
		if errStatus(err) != tc.status {
			t.Fatalf("%s: status %d (%v), want %d", tc.name, errStatus(err), err, tc.status)
		}
	}

	// response-* overrides.
	g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(key),
		ResponseContentType: aws.String("application/x-test"), ResponseContentDisposition: aws.String("inline"),
		ResponseCacheControl: aws.String("no-store")})
	must(t, err, "get with overrides")
	readAll(t, g.Body)
	if aws.ToString(g.ContentType) != "application/x-test" || aws.ToString(g.ContentDisposition) != "inline" || aws.ToString(g.CacheControl) != "no-store" {
		t.Fatalf("overrides: %q %q %q", aws.ToString(g.ContentType), aws.ToString(g.ContentDisposition), aws.ToString(g.CacheControl))
	}

	// CopyObject: COPY keeps the source's metadata, REPLACE takes the request's.
	src := url.PathEscape(bucket) + "/" + escapeKey(key)
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copies/copy"), CopySource: aws.String(src)})
	must(t, err, "copy COPY")
	if aws.ToString(cp.CopyObjectResult.ETag) != etag || cp.CopyObjectResult.LastModified == nil {
		t.Fatalf("copy result %+v", cp.CopyObjectResult)
	}
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("copies/copy")})
	must(t, err, "head copy")
	if h.Metadata["color"] != "blue" || aws.ToString(h.ContentType) != "text/plain" || aws.ToInt64(h.ContentLength) != int64(len(data)) {
		t.Fatalf("COPY metadata %v %q", h.Metadata, aws.ToString(h.ContentType))
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copies/replaced"), CopySource: aws.String(src),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"color": "red"}, ContentType: aws.String("application/json")})
	must(t, err, "copy REPLACE")
	h, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("copies/replaced")})
	must(t, err, "head replaced")
	if h.Metadata["color"] != "red" || h.Metadata["mixed-case"] != "" || aws.ToString(h.ContentType) != "application/json" || aws.ToString(h.ETag) != etag {
		t.Fatalf("REPLACE metadata %v %q %q", h.Metadata, aws.ToString(h.ContentType), aws.ToString(h.ETag))
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String(key), CopySource: aws.String(src)})
	wantCode(t, err, "InvalidRequest", "copy onto itself without REPLACE")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copies/never"), CopySource: aws.String(src), CopySourceIfMatch: aws.String(`"0000"`)})
	wantCode(t, err, "PreconditionFailed", "copy-source-if-match")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copies/never"), CopySource: aws.String(src), CopySourceIfNoneMatch: aws.String(etag)})
	wantCode(t, err, "PreconditionFailed", "copy-source-if-none-match")
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("copies/never")})
	if errStatus(err) != 404 {
		t.Fatalf("failed copy left an object: %v", err)
	}

	// Multipart: three parts, then UploadPartCopy with a range, then abort.
	mpKey := "mp/big object"
	parts := [][]byte{pattern(5 << 20), bytes.Repeat([]byte("x"), 5<<20), []byte("tail")}
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String(mpKey),
		ContentType: aws.String("application/octet-stream"), Metadata: map[string]string{"kind": "multipart"}})
	must(t, err, "create multipart")
	uploadID := cr.UploadId
	if aws.ToString(uploadID) == "" || aws.ToString(cr.Key) != mpKey || aws.ToString(cr.Bucket) != bucket {
		t.Fatalf("create multipart result %+v", cr)
	}
	var completed []types.CompletedPart
	for i, p := range parts {
		var body io.Reader = bytes.NewReader(p)
		if streaming && i == 1 {
			body = unseekable{body}
		}
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String(mpKey), UploadId: uploadID,
			PartNumber: aws.Int32(int32(i + 1)), Body: body, ContentLength: aws.Int64(int64(len(p)))})
		must(t, err, "upload part")
		completed = append(completed, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: aws.String(mpKey), UploadId: uploadID})
	must(t, err, "list parts")
	if len(lp.Parts) != 3 || aws.ToInt64(lp.Parts[0].Size) != 5<<20 || aws.ToInt64(lp.Parts[2].Size) != 4 ||
		aws.ToString(lp.Parts[1].ETag) != aws.ToString(completed[1].ETag) {
		t.Fatalf("list parts %+v", lp.Parts)
	}
	// The exact key as prefix: MinIO lists uploads of one object only.
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b, Prefix: aws.String(mpKey)})
	must(t, err, "list uploads")
	if len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(uploadID) || aws.ToString(lu.Uploads[0].Key) != mpKey {
		t.Fatalf("list uploads %+v", lu.Uploads)
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String(mpKey), UploadId: uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{completed[1], completed[0]}}})
	wantCode(t, err, "InvalidPartOrder", "complete out of order")
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String(mpKey), UploadId: uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed}})
	must(t, err, "complete")
	if !strings.HasSuffix(aws.ToString(done.ETag), `-3"`) || aws.ToString(done.Key) != mpKey || aws.ToString(done.Location) == "" {
		t.Fatalf("complete result etag=%q key=%q location=%q", aws.ToString(done.ETag), aws.ToString(done.Key), aws.ToString(done.Location))
	}
	whole := bytes.Join(parts, nil)
	g, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(mpKey)})
	must(t, err, "get multipart object")
	if got := readAll(t, g.Body); !bytes.Equal(got, whole) || g.Metadata["kind"] != "multipart" {
		t.Fatalf("multipart object: %d bytes (want %d), meta %v", len(got), len(whole), g.Metadata)
	}

	cr2, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp/copied")})
	must(t, err, "create multipart 2")
	pc, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("mp/copied"), UploadId: cr2.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String(bucket + "/" + escapeKey(mpKey)), CopySourceRange: aws.String("bytes=1-5242880")})
	must(t, err, "upload part copy")
	up2, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp/copied"), UploadId: cr2.UploadId,
		PartNumber: aws.Int32(2), Body: bytes.NewReader([]byte("end"))})
	must(t, err, "upload part 2")
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp/copied"), UploadId: cr2.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: pc.CopyPartResult.ETag}, {PartNumber: aws.Int32(2), ETag: up2.ETag}}}})
	must(t, err, "complete 2")
	g, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("mp/copied")})
	must(t, err, "get copied multipart")
	if got, want := readAll(t, g.Body), append(slices.Clone(whole[1:5242881]), "end"...); !bytes.Equal(got, want) {
		t.Fatalf("part copy object: %d bytes, want %d", len(got), len(want))
	}

	cr3, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp/aborted")})
	must(t, err, "create multipart 3")
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp/aborted"), UploadId: cr3.UploadId,
		PartNumber: aws.Int32(10001), Body: bytes.NewReader([]byte("x"))})
	wantCode(t, err, "InvalidArgument", "part number 10001")
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("mp/aborted"), UploadId: cr3.UploadId})
	must(t, err, "abort")
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: aws.String("mp/aborted"), UploadId: cr3.UploadId})
	wantCode(t, err, "NoSuchUpload", "list parts after abort")
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("mp/aborted")})
	if errStatus(err) != 404 {
		t.Fatalf("aborted upload left an object: %v", err)
	}

	// Harmless probes get defaults; other subresources are not implemented.
	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	must(t, err, "get versioning")
	if v.Status != "" {
		t.Fatalf("versioning status %q", v.Status)
	}
	acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: b})
	must(t, err, "get acl")
	if len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl || aws.ToString(acl.Owner.ID) != "root" {
		t.Fatalf("acl %+v", acl)
	}
	_, err = c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
	wantCode(t, err, "NotImplemented", "put bucket tagging")
	tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String(key)})
	must(t, err, "get object tagging")
	if len(tags.TagSet) != 0 {
		t.Fatalf("tags %+v", tags.TagSet)
	}
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String(key), Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
	wantCode(t, err, "NotImplemented", "put object tagging")

	// Listing V1 and V2.
	l2, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Delimiter: aws.String("/")})
	must(t, err, "list v2")
	if aws.ToInt32(l2.KeyCount) != 3 || len(l2.CommonPrefixes) != 3 || len(l2.Contents) != 0 {
		t.Fatalf("list v2: %d keys, prefixes %d, contents %d", aws.ToInt32(l2.KeyCount), len(l2.CommonPrefixes), len(l2.Contents))
	}
	l1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: b, Prefix: aws.String("dir/")})
	must(t, err, "list v1")
	if len(l1.Contents) != 1 || aws.ToString(l1.Contents[0].Key) != key || aws.ToString(l1.Contents[0].ETag) != etag ||
		aws.ToInt64(l1.Contents[0].Size) != int64(len(data)) || l1.Contents[0].Owner == nil {
		t.Fatalf("list v1 %+v", l1.Contents)
	}

	// DeleteObjects with a per-key error, then DeleteObject, DeleteBucket.
	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("copies/copy")}, {Key: aws.String("copies/replaced")}, {Key: aws.String("mp/../escape")}, {Key: aws.String("missing")},
	}}})
	must(t, err, "delete objects")
	if len(del.Deleted) != 3 || len(del.Errors) != 1 || aws.ToString(del.Errors[0].Key) != "mp/../escape" || aws.ToString(del.Errors[0].Code) != "InvalidObjectName" {
		t.Fatalf("delete objects: deleted %d, errors %+v", len(del.Deleted), del.Errors)
	}
	quiet, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Quiet: aws.Bool(true),
		Objects: []types.ObjectIdentifier{{Key: aws.String("mp/copied")}}}})
	must(t, err, "delete objects quiet")
	if len(quiet.Deleted) != 0 || len(quiet.Errors) != 0 {
		t.Fatalf("quiet delete: %+v %+v", quiet.Deleted, quiet.Errors)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b})
	wantCode(t, err, "BucketNotEmpty", "delete non-empty bucket")
	for _, k := range []string{key, mpKey} {
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String(k)})
		must(t, err, "delete object")
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String(k)})
		if errStatus(err) != 404 {
			t.Fatalf("deleted object still there: %v", err)
		}
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b})
	must(t, err, "delete bucket")
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: b})
	if errStatus(err) != 404 {
		t.Fatalf("head deleted bucket: %v", err)
	}
}

// escapeKey URL-encodes a key for x-amz-copy-source, keeping '/'.
func escapeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
