package s3api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/storage"
)

func TestHeadRange(t *testing.T) { headRangeScenario(t, newTestEnv(t, false), "hrange") }

func headRangeScenario(t *testing.T, e *testEnv, bucket string) {
	c := e.root()
	setupBucket(t, c, bucket)
	putString(t, c, bucket, "k", "0123456789")
	for _, tc := range []struct {
		rng, contentRange string
		status, length    int
	}{
		{"bytes=2-5", "bytes 2-5/10", 206, 4},
		{"bytes=7-", "bytes 7-9/10", 206, 3},
		{"bytes=-3", "bytes 7-9/10", 206, 3},
		{"bytes=5-100", "bytes 5-9/10", 206, 5},
		{"", "", 200, 10},
		{"items=1-2", "", 200, 10}, // malformed: ignored, as S3 does
		{"bytes=10-", "", 416, -1},
	} {
		hdr := http.Header{}
		if tc.rng != "" {
			hdr.Set("Range", tc.rng)
		}
		status, body, h := e.do("HEAD", "/"+bucket+"/k", nil, hdr)
		if status != tc.status || h.Get("Content-Range") != tc.contentRange || body != "" {
			t.Errorf("HEAD %q: %d Content-Range %q", tc.rng, status, h.Get("Content-Range"))
			continue
		}
		if tc.length >= 0 && h.Get("Content-Length") != strconv.Itoa(tc.length) {
			t.Errorf("HEAD %q: Content-Length %q, want %d", tc.rng, h.Get("Content-Length"), tc.length)
		}
	}
	out, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Range: aws.String("bytes=0-0")})
	must(t, err, "sdk head range")
	if aws.ToInt64(out.ContentLength) != 1 || aws.ToString(out.ContentRange) != "bytes 0-0/10" {
		t.Fatalf("sdk head range: %d %q", aws.ToInt64(out.ContentLength), aws.ToString(out.ContentRange))
	}
}

func TestMaxKeysZero(t *testing.T) { maxKeysZeroScenario(t, newTestEnv(t, false), "maxk") }

func maxKeysZeroScenario(t *testing.T, e *testEnv, bucket string) {
	c := e.root()
	ctx := context.Background()
	setupBucket(t, c, bucket)
	for _, k := range []string{"a", "b/c", "d"} {
		putString(t, c, bucket, k, "x")
	}
	_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("up")})
	must(t, err, "create upload")
	for _, q := range []string{"max-keys=0", "list-type=2&max-keys=0", "versions&max-keys=0", "uploads&max-uploads=0",
		"max-keys=0&delimiter=/", "list-type=2&max-keys=0&delimiter=/"} {
		status, body, _ := e.do("GET", "/"+bucket+"?"+q, nil, nil)
		if status != 200 || !strings.Contains(body, "<IsTruncated>false</IsTruncated>") ||
			strings.Contains(body, "<Contents>") || strings.Contains(body, "<Upload>") || strings.Contains(body, "<Version>") ||
			strings.Contains(body, "<CommonPrefixes>") || strings.Contains(body, "NextContinuationToken") || strings.Contains(body, "<NextMarker>") {
			t.Errorf("?%s: %d %s", q, status, body)
		}
	}
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(0)})
	must(t, err, "sdk max-keys 0")
	if aws.ToBool(l.IsTruncated) || aws.ToInt32(l.KeyCount) != 0 || len(l.Contents) != 0 {
		t.Fatalf("sdk max-keys 0: %+v", l)
	}
	status, body, _ := e.do("GET", "/missing-bkt?list-type=2&max-keys=0", nil, nil)
	if status != 404 || !strings.Contains(body, "NoSuchBucket") {
		t.Fatalf("max-keys=0 on a missing bucket: %d %s", status, body)
	}
}

func TestControlCharacterKeys(t *testing.T) { controlKeysScenario(t, newTestEnv(t, false), "ctrl") }

func controlKeysScenario(t *testing.T, e *testEnv, bucket string) {
	c := e.root()
	ctx := context.Background()
	setupBucket(t, c, bucket)
	keys := []string{"a\x01b", "c\x7fd", "e\rf", "g\th", "i&<>j"}
	for _, k := range keys {
		putString(t, c, bucket, k, "x")
	}
	for _, q := range []string{"", "list-type=2", "versions"} {
		status, body, _ := e.do("GET", "/"+bucket+"?"+q, nil, nil)
		for _, want := range []string{"<Key>a&#x1;b</Key>", "<Key>c&#x7F;d</Key>", "<Key>e&#xD;f</Key>", "<Key>g&#x9;h</Key>", "<Key>i&amp;&lt;&gt;j</Key>"} {
			if status != 200 || !strings.Contains(body, want) {
				t.Errorf("?%s: %d, no %s in %s", q, status, want, body)
			}
		}
		if strings.ContainsRune(body, '\uFFFD') {
			t.Errorf("?%s: replacement character in %s", q, body)
		}
	}
	// With encoding-type=url every client reads the keys back exactly.
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), EncodingType: types.EncodingTypeUrl})
	must(t, err, "list encoded")
	var got []string
	for _, o := range l.Contents {
		k, err := url.PathUnescape(aws.ToString(o.Key))
		must(t, err, "unescape")
		got = append(got, k)
	}
	if strings.Join(got, "|") != strings.Join(append(keys, "obj"), "|") { // setupBucket's "obj"
		t.Fatalf("decoded keys %q, want %q", got, keys)
	}
	// The references S3 writes decode back to the key (a decoder that
	// accepts XML 1.1 character references; Go's and expat refuse them, as
	// they refuse S3's).
	for _, k := range keys {
		if back := unescapeRefs(escapeXMLText(k)); back != k {
			t.Errorf("escape round trip of %q: %q", k, back)
		}
	}
}

// unescapeRefs decodes the references escapeXMLText writes.
func unescapeRefs(s string) string {
	r := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")
	var b strings.Builder
	for {
		i := strings.Index(s, "&#x")
		if i < 0 {
			b.WriteString(r.Replace(s))
			return b.String()
		}
		b.WriteString(r.Replace(s[:i]))
		j := strings.IndexByte(s[i:], ';')
		var n rune
		for _, c := range s[i+3 : i+j] {
			n = n*16 + rune(strings.IndexRune("0123456789ABCDEF", c))
		}
		b.WriteRune(n)
		s = s[i+j+1:]
	}
}

func TestCopyDirectives(t *testing.T) { copyDirectivesScenario(t, newTestEnv(t, false), "cpd") }

func copyDirectivesScenario(t *testing.T, e *testEnv, bucket string) {
	c := e.root()
	ctx := context.Background()
	b := aws.String(bucket)
	setupBucket(t, c, bucket)
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("src"), Body: strings.NewReader("data"),
		ContentType: aws.String("text/plain"), CacheControl: aws.String("max-age=1"), ContentDisposition: aws.String("inline"),
		ContentEncoding: aws.String("identity"), ContentLanguage: aws.String("en"), Expires: aws.Time(expires),
		Metadata: map[string]string{"Color": "red"}})
	must(t, err, "put src")
	// User metadata names are stored lower-cased.
	status, _, hdr := e.do("PUT", "/"+bucket+"/mixed", []byte("x"), http.Header{"X-Amz-Meta-MiXeD": {"v"}})
	if status != 200 {
		t.Fatalf("put mixed: %d", status)
	}
	if e.fs1 != nil {
		info, err := e.fs1.HeadObject(ctx, bucket, "src", storage.GetOptions{})
		must(t, err, "backend head")
		if info.UserMetadata["color"] != "red" || len(info.UserMetadata) != 1 {
			t.Fatalf("stored metadata %v", info.UserMetadata)
		}
		info, err = e.fs1.HeadObject(ctx, bucket, "mixed", storage.GetOptions{})
		must(t, err, "backend head mixed")
		if info.UserMetadata["mixed"] != "v" {
			t.Fatalf("mixed-case metadata stored as %v (%v)", info.UserMetadata, hdr)
		}
	}
	hm, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("mixed")})
	must(t, err, "head mixed")
	if hm.Metadata["mixed"] != "v" || len(hm.Metadata) != 1 {
		t.Fatalf("mixed-case metadata read back as %v", hm.Metadata)
	}

	head := func(key string) *s3.HeadObjectOutput {
		t.Helper()
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key)})
		must(t, err, "head "+key)
		return h
	}
	// COPY keeps everything, whatever the request's headers say.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("kept"), CopySource: aws.String(bucket + "/src"),
		ContentType: aws.String("application/ignored"), CacheControl: aws.String("no-store"), Metadata: map[string]string{"color": "blue"},
		TaggingDirective: types.TaggingDirectiveCopy})
	must(t, err, "copy COPY")
	h := head("kept")
	// MinIO drops Expires on a COPY (AWS keeps it); dgp passes its answer through.
	expiresKept := aws.ToString(h.ExpiresString) == expires.Format(http.TimeFormat) || e.fs1 == nil && h.ExpiresString == nil
	if aws.ToString(h.ContentType) != "text/plain" || aws.ToString(h.CacheControl) != "max-age=1" || aws.ToString(h.ContentDisposition) != "inline" ||
		aws.ToString(h.ContentEncoding) != "identity" || aws.ToString(h.ContentLanguage) != "en" || h.Metadata["color"] != "red" || !expiresKept {
		t.Fatalf("COPY: type %q cache %q disposition %q encoding %q language %q meta %v expires %q", aws.ToString(h.ContentType),
			aws.ToString(h.CacheControl), aws.ToString(h.ContentDisposition), aws.ToString(h.ContentEncoding),
			aws.ToString(h.ContentLanguage), h.Metadata, aws.ToString(h.ExpiresString))
	}
	// REPLACE replaces metadata and content headers; absent ones are gone.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("replaced"), CopySource: aws.String(bucket + "/src"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("application/json"),
		ContentLanguage: aws.String("de"), Metadata: map[string]string{"shape": "round"}, TaggingDirective: types.TaggingDirectiveReplace})
	must(t, err, "copy REPLACE")
	h = head("replaced")
	if aws.ToString(h.ContentType) != "application/json" || aws.ToString(h.ContentLanguage) != "de" || aws.ToString(h.CacheControl) != "" ||
		aws.ToString(h.ContentDisposition) != "" || h.Metadata["shape"] != "round" || h.Metadata["color"] != "" {
		t.Fatalf("REPLACE: type %q language %q cache %q disposition %q meta %v", aws.ToString(h.ContentType), aws.ToString(h.ContentLanguage),
			aws.ToString(h.CacheControl), aws.ToString(h.ContentDisposition), h.Metadata)
	}
	// Onto itself: refused without REPLACE, replaces with it.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("src"), CopySource: aws.String(bucket + "/src")})
	wantCode(t, err, "InvalidRequest", "self copy without REPLACE")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("src"), CopySource: aws.String(bucket + "/src"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/html"), CacheControl: aws.String("no-cache"),
		Metadata: map[string]string{"color": "green"}})
	must(t, err, "self copy REPLACE")
	h = head("src")
	if aws.ToString(h.ContentType) != "text/html" || aws.ToString(h.CacheControl) != "no-cache" || h.Metadata["color"] != "green" ||
		aws.ToString(h.ContentLanguage) != "" {
		t.Fatalf("self REPLACE: type %q cache %q meta %v language %q", aws.ToString(h.ContentType), aws.ToString(h.CacheControl),
			h.Metadata, aws.ToString(h.ContentLanguage))
	}
	if got, _ := getString(t, c, bucket, "src", ""); got != "data" {
		t.Fatalf("self copy body %q", got)
	}
	status, body, _ := e.do("PUT", "/"+bucket+"/x", nil, http.Header{"X-Amz-Copy-Source": {bucket + "/src"}, "X-Amz-Tagging-Directive": {"MERGE"}})
	if status != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
		t.Fatalf("bad tagging directive: %d %s", status, body)
	}
}

// TestConditionalHeaders checks that 304 and 412 answers carry ETag and
// Last-Modified, as S3's do.
func TestConditionalHeaders(t *testing.T) { conditionalScenario(t, newTestEnv(t, false), "cond") }

func conditionalScenario(t *testing.T, e *testEnv, bucket string) {
	c := e.root()
	setupBucket(t, c, bucket)
	put := putString(t, c, bucket, "k", "x")
	etag := aws.ToString(put.ETag)
	for _, tc := range []struct {
		method string
		hdr    http.Header
		status int
	}{
		{"GET", http.Header{"If-None-Match": {etag}}, 304},
		{"HEAD", http.Header{"If-None-Match": {etag}}, 304},
		{"GET", http.Header{"If-Match": {`"nope"`}}, 412},
		{"HEAD", http.Header{"If-Match": {`"nope"`}}, 412},
		{"GET", http.Header{"If-Modified-Since": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}}, 304},
	} {
		status, body, h := e.do(tc.method, "/"+bucket+"/k", nil, tc.hdr)
		if status != tc.status || h.Get("ETag") != etag || h.Get("Last-Modified") == "" {
			t.Errorf("%s %v: %d ETag %q Last-Modified %q %s", tc.method, tc.hdr, status, h.Get("ETag"), h.Get("Last-Modified"), body)
		}
		if tc.status == 412 && tc.method == "GET" && !strings.Contains(body, "<Code>PreconditionFailed</Code>") {
			t.Errorf("412 body %s", body)
		}
	}
}
