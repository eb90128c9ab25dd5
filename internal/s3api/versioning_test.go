package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// md5Header returns a Content-MD5 header for body.
func md5Header(body []byte) http.Header {
	s := md5.Sum(body)
	return http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(s[:])}}
}

func putString(t *testing.T, c *s3.Client, bucket, key, body string) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	must(t, err, "put "+key)
	return out
}

func getString(t *testing.T, c *s3.Client, bucket, key, version string) (string, *s3.GetObjectOutput) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := c.GetObject(context.Background(), in)
	must(t, err, "get "+key+"@"+version)
	return string(readAll(t, out.Body)), out
}

// versionEntry is one Version or DeleteMarker of a raw ListVersionsResult,
// in document order.
type versionEntry struct {
	Marker    bool
	Key       string
	VersionID string
	IsLatest  bool
	HasETag   bool
	HasOwner  bool
}

// parseVersions reads the entries of a ListVersionsResult in order.
func parseVersions(t *testing.T, body string) []versionEntry {
	t.Helper()
	var out []versionEntry
	d := xml.NewDecoder(strings.NewReader(body))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("parse versions: %v\n%s", err, body)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || (se.Name.Local != "Version" && se.Name.Local != "DeleteMarker") {
			continue
		}
		var v struct {
			Key       string  `xml:"Key"`
			VersionID string  `xml:"VersionId"`
			IsLatest  bool    `xml:"IsLatest"`
			ETag      *string `xml:"ETag"`
			Owner     *struct {
				ID string `xml:"ID"`
			} `xml:"Owner"`
		}
		if err := d.DecodeElement(&v, &se); err != nil {
			t.Fatal(err)
		}
		out = append(out, versionEntry{Marker: se.Name.Local == "DeleteMarker", Key: v.Key, VersionID: v.VersionID,
			IsLatest: v.IsLatest, HasETag: v.ETag != nil, HasOwner: v.Owner != nil && v.Owner.ID == "root"})
	}
}

func TestVersioning(t *testing.T) {
	versioningScenario(t, newTestEnv(t, false), "ver", false)
}

// versioningScenario runs versioning calls through dgp on a new bucket
// (on the directory backend, or passed through to an S3 backend). With
// minio, MinIO's own answers are accepted where it differs from S3.
func versioningScenario(t *testing.T, e *testEnv, bucket string, minio bool) {
	c := e.root()
	ctx := context.Background()
	b := aws.String(bucket)
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
	must(t, err, "create "+bucket)

	// Unversioned: status absent, every object one null version.
	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	must(t, err, "get versioning")
	if v.Status != "" {
		t.Fatalf("new bucket versioning %q", v.Status)
	}
	if out := putString(t, c, bucket, "plain", "p0"); out.VersionId != nil {
		t.Fatalf("unversioned put has version id %q", aws.ToString(out.VersionId))
	}
	lv, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: b})
	must(t, err, "list versions unversioned")
	if len(lv.Versions) != 1 || aws.ToString(lv.Versions[0].VersionId) != "null" || !aws.ToBool(lv.Versions[0].IsLatest) ||
		aws.ToString(lv.Versions[0].Key) != "plain" || aws.ToInt64(lv.Versions[0].Size) != 2 || len(lv.DeleteMarkers) != 0 {
		t.Fatalf("unversioned listing %+v", lv.Versions)
	}

	// "null" names the one version of an unversioned object.
	putString(t, c, bucket, "nullv", "n")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("nullv2"), CopySource: aws.String(bucket + "/nullv?versionId=null")})
	must(t, err, "copy the null version")
	if got, _ := getString(t, c, bucket, "nullv", "null"); got != "n" {
		t.Fatalf("get versionId=null: %q", got)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("nullv"), VersionId: aws.String("null")})
	must(t, err, "delete the null version")
	dn, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("nullv2"), VersionId: aws.String("null")}}}})
	must(t, err, "delete objects null version")
	if len(dn.Deleted) != 1 || aws.ToString(dn.Deleted[0].VersionId) != "null" || len(dn.Errors) != 0 {
		t.Fatalf("delete null version: %+v %+v", dn.Deleted, dn.Errors)
	}
	if objectExists(t, c, bucket, "nullv") || objectExists(t, c, bucket, "nullv2") {
		t.Fatal("null versions not deleted")
	}

	// Enable; versions, delete markers, version ids on every answer.
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	must(t, err, "enable versioning")
	v, err = c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	must(t, err, "get versioning")
	if v.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning %q", v.Status)
	}
	v1 := aws.ToString(putString(t, c, bucket, "k", "one").VersionId)
	v2 := aws.ToString(putString(t, c, bucket, "k", "two").VersionId)
	if v1 == "" || v2 == "" || v1 == v2 || v1 == "null" {
		t.Fatalf("version ids %q %q", v1, v2)
	}
	if body, g := getString(t, c, bucket, "k", v1); body != "one" || aws.ToString(g.VersionId) != v1 {
		t.Fatalf("get v1: %q version %q", body, aws.ToString(g.VersionId))
	}
	if body, g := getString(t, c, bucket, "k", ""); body != "two" || aws.ToString(g.VersionId) != v2 {
		t.Fatalf("get latest: %q version %q", body, aws.ToString(g.VersionId))
	}
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v1)})
	must(t, err, "head v1")
	if aws.ToString(h.VersionId) != v1 || aws.ToInt64(h.ContentLength) != 3 {
		t.Fatalf("head v1: %+v", h)
	}
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k")})
	must(t, err, "delete k")
	dm := aws.ToString(del.VersionId)
	if !aws.ToBool(del.DeleteMarker) || dm == "" {
		t.Fatalf("delete: marker %v version %q", aws.ToBool(del.DeleteMarker), dm)
	}
	status, _, hdr := e.do("GET", "/"+bucket+"/k", nil, nil)
	if status != 404 || hdr.Get("x-amz-delete-marker") != "true" {
		t.Fatalf("get deleted: %d, headers %v", status, hdr)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(dm)})
	wantCode(t, err, "MethodNotAllowed", "get a delete marker by id")
	status, body, _ := e.do("GET", "/"+bucket+"/k?versionId=", nil, nil)
	if status != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
		t.Fatalf("empty versionId: %d %s", status, body)
	}

	// The listing: markers and versions interleaved, newest first per key.
	status, body, _ = e.do("GET", "/"+bucket+"?versions", nil, nil)
	if status != 200 {
		t.Fatalf("list versions: %d %s", status, body)
	}
	want := []versionEntry{
		{Marker: true, Key: "k", VersionID: dm, IsLatest: true, HasOwner: true},
		{Key: "k", VersionID: v2, HasETag: true, HasOwner: true},
		{Key: "k", VersionID: v1, HasETag: true, HasOwner: true},
		{Key: "plain", VersionID: "null", IsLatest: true, HasETag: true, HasOwner: true},
	}
	if got := parseVersions(t, body); !equalEntries(got, want) {
		t.Fatalf("versions\n got %+v\nwant %+v", got, want)
	}
	if strings.Contains(body, "NextKeyMarker") || strings.Contains(body, "NextVersionIdMarker") ||
		!strings.Contains(body, "<StorageClass>STANDARD</StorageClass>") || !strings.Contains(body, "<VersionIdMarker></VersionIdMarker>") {
		t.Fatalf("untruncated listing fields: %s", body)
	}

	// Paging one entry at a time visits the same entries in order.
	var paged []versionEntry
	q := "/" + bucket + "?versions&max-keys=1"
	for i := 0; i < 10; i++ {
		status, body, _ = e.do("GET", q, nil, nil)
		if status != 200 {
			t.Fatalf("page %d: %d %s", i, status, body)
		}
		var page struct {
			IsTruncated         bool   `xml:"IsTruncated"`
			NextKeyMarker       string `xml:"NextKeyMarker"`
			NextVersionIDMarker string `xml:"NextVersionIdMarker"`
		}
		must(t, xml.Unmarshal([]byte(body), &page), "page xml")
		paged = append(paged, parseVersions(t, body)...)
		if !page.IsTruncated {
			break
		}
		if page.NextKeyMarker == "" || page.NextVersionIDMarker == "" {
			t.Fatalf("truncated page without markers: %s", body)
		}
		q = "/" + bucket + "?versions&max-keys=1&key-marker=" + url.QueryEscape(page.NextKeyMarker) + "&version-id-marker=" + url.QueryEscape(page.NextVersionIDMarker)
	}
	if !equalEntries(paged, want) {
		t.Fatalf("paged versions\n got %+v\nwant %+v", paged, want)
	}
	status, body, _ = e.do("GET", "/"+bucket+"?versions&max-keys=0", nil, nil)
	if status != 200 || !strings.Contains(body, "<IsTruncated>false</IsTruncated>") || len(parseVersions(t, body)) != 0 ||
		!strings.Contains(body, "<MaxKeys>0</MaxKeys>") {
		t.Fatalf("max-keys=0: %d %s", status, body)
	}
	status, body, _ = e.do("GET", "/"+bucket+"?versions&version-id-marker="+url.QueryEscape(v1), nil, nil)
	if status != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
		t.Fatalf("version-id-marker without key-marker: %d %s", status, body)
	}
	lv, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: b, Prefix: aws.String("k"), Delimiter: aws.String("/")})
	must(t, err, "list versions sdk")
	if len(lv.Versions) != 2 || len(lv.DeleteMarkers) != 1 || aws.ToString(lv.DeleteMarkers[0].VersionId) != dm || aws.ToString(lv.Prefix) != "k" {
		t.Fatalf("sdk listing: %+v %+v", lv.Versions, lv.DeleteMarkers)
	}

	// Copy a version (restoring it), then UploadPartCopy of a version.
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("k"), CopySource: aws.String(bucket + "/k?versionId=" + v1)})
	must(t, err, "copy v1 onto k")
	if aws.ToString(cp.CopySourceVersionId) != v1 || aws.ToString(cp.VersionId) == "" || aws.ToString(cp.VersionId) == v1 {
		t.Fatalf("copy versions: source %q new %q", aws.ToString(cp.CopySourceVersionId), aws.ToString(cp.VersionId))
	}
	if got, _ := getString(t, c, bucket, "k", ""); got != "one" {
		t.Fatalf("restored k = %q", got)
	}
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp")})
	must(t, err, "create multipart")
	pc, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String(bucket + "/k?versionId=" + v2)})
	must(t, err, "upload part copy of v2")
	if aws.ToString(pc.CopySourceVersionId) != v2 {
		t.Fatalf("part copy source version %q", aws.ToString(pc.CopySourceVersionId))
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pc.CopyPartResult.ETag}}}})
	must(t, err, "complete")
	if aws.ToString(done.VersionId) == "" {
		t.Fatal("complete in a versioned bucket has no version id")
	}
	if got, _ := getString(t, c, bucket, "mp", ""); got != "two" {
		t.Fatalf("mp = %q", got)
	}

	// DeleteObjects with versions: a version, a marker, a new marker.
	dres, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("k"), VersionId: aws.String(v2)},
		{Key: aws.String("k"), VersionId: aws.String(dm)},
		{Key: aws.String("plain")},
	}}})
	must(t, err, "delete objects")
	if len(dres.Errors) != 0 || len(dres.Deleted) != 3 {
		t.Fatalf("delete objects: %+v %+v", dres.Deleted, dres.Errors)
	}
	byVersion := map[string]types.DeletedObject{}
	for _, d := range dres.Deleted {
		byVersion[aws.ToString(d.Key)+"@"+aws.ToString(d.VersionId)] = d
	}
	if d, ok := byVersion["k@"+v2]; !ok || aws.ToBool(d.DeleteMarker) {
		t.Fatalf("deleted v2 entry: %+v", byVersion)
	}
	if d, ok := byVersion["k@"+dm]; !ok || !aws.ToBool(d.DeleteMarker) || aws.ToString(d.DeleteMarkerVersionId) != dm {
		t.Fatalf("deleted marker entry: %+v", byVersion)
	}
	if d, ok := byVersion["plain@"]; !ok || !aws.ToBool(d.DeleteMarker) || aws.ToString(d.DeleteMarkerVersionId) == "" {
		t.Fatalf("new marker entry: %+v", byVersion)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v2)})
	wantCode(t, err, "NoSuchVersion", "get a removed version")

	// Suspended: writes go to the null version.
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	must(t, err, "suspend versioning")
	// MinIO sends no x-amz-version-id for a null version.
	if out := putString(t, c, bucket, "s", "x"); aws.ToString(out.VersionId) != "null" && !(minio && out.VersionId == nil) {
		t.Fatalf("suspended put version %q", aws.ToString(out.VersionId))
	}

	// Invalid configurations get S3's codes.
	for _, tc := range []struct{ body, code string }{
		{`<VersioningConfiguration><Status>Bogus</Status></VersioningConfiguration>`, "MalformedXML"},
		{`<VersioningConfiguration></VersioningConfiguration>`, "IllegalVersioningConfigurationException"},
		{`<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>`, "NotImplemented"},
		{`<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Maybe</MfaDelete></VersioningConfiguration>`, "MalformedXML"},
		{`<Versioning><Status>Enabled</Status></Versioning>`, "MalformedXML"},
	} {
		status, body, _ := e.do("PUT", "/"+bucket+"?versioning", []byte(tc.body), md5Header([]byte(tc.body)))
		if status/100 == 2 || !strings.Contains(body, "<Code>"+tc.code+"</Code>") {
			t.Errorf("versioning %s: %d %s, want %s", tc.body, status, body, tc.code)
		}
	}

	// IAM: the writer (no admin) may list versions but not configure them.
	w := e.client(writerAK, writerSK, false)
	_, err = w.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	wantCode(t, err, "AccessDenied", "writer enables versioning")
	_, err = w.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: b})
	must(t, err, "writer lists versions")
	r := e.client(readerAK, readerSK, false)
	_, err = r.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: b})
	wantCode(t, err, "AccessDenied", "reader lists another bucket's versions")
	_, err = r.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v1)})
	wantCode(t, err, "AccessDenied", "reader gets a version")
}

func equalEntries(a, b []versionEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestListVersionsEncoding checks encoding-type=url and delimiters in
// version listings.
func TestListVersionsEncoding(t *testing.T) {
	e := newTestEnv(t, false)
	c := e.root()
	ctx := context.Background()
	setupBucket(t, c, "venc")
	for _, k := range []string{"a b/1", "a b/2", "top+x"} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("venc"), Key: aws.String(k), Body: bytes.NewReader([]byte("x"))})
		must(t, err, "put "+k)
	}
	status, body, _ := e.do("GET", "/venc?versions&encoding-type=url&delimiter=%2F", nil, nil)
	if status != 200 || !strings.Contains(body, "<Prefix>a+b/</Prefix>") || !strings.Contains(body, "<Key>top%2Bx</Key>") ||
		!strings.Contains(body, "<EncodingType>url</EncodingType>") || !strings.Contains(body, "<Delimiter>/</Delimiter>") {
		t.Fatalf("encoded versions: %d %s", status, body)
	}
	status, body, _ = e.do("GET", "/venc?versions&encoding-type=bogus", nil, nil)
	if status != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
		t.Fatalf("bad encoding-type: %d %s", status, body)
	}
	_, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("nosuch-bkt")})
	wantCode(t, err, "NoSuchBucket", "versions of a missing bucket")
	status, body, _ = e.do("GET", "/nosuch-bkt?versions&max-keys=0", nil, nil)
	if status != 404 || !strings.Contains(body, "<Code>NoSuchBucket</Code>") {
		t.Fatalf("max-keys=0 of a missing bucket: %d %s", status, body)
	}
}
