package s3api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// setupBucket creates bucket with one object "obj" through the root client.
func setupBucket(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	must(t, err, "create "+bucket)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("obj"), Body: strings.NewReader("content")})
	must(t, err, "put obj")
}

// objectExists asks the root client whether bucket/key exists.
func objectExists(t *testing.T, c *s3.Client, bucket, key string) bool {
	t.Helper()
	_, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		return true
	}
	if errStatus(err) != 404 {
		t.Fatalf("head %s/%s: %v", bucket, key, err)
	}
	return false
}

func listBucketNames(t *testing.T, c *s3.Client) []string {
	t.Helper()
	out, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	must(t, err, "list buckets")
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	return names
}

func TestBadInputs(t *testing.T) {
	e := newTestEnv(t, false)
	c := e.root()
	ctx := context.Background()
	setupBucket(t, c, "good")
	before := listBucketNames(t, c)

	for _, name := range []string{"ab", "_hidden", "1.2.3.4", "a..b", "bucket-", strings.Repeat("b", 64)} {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		wantCode(t, err, "InvalidBucketName", "create "+name)
	}
	for _, path := range []string{"/UPPER", "/Bad_Name/key", "/.dot/key", "//key"} {
		status, body, _ := e.do("PUT", path, nil, nil)
		if status != 400 || !strings.Contains(body, "<Code>InvalidBucketName</Code>") {
			t.Fatalf("PUT %s: %d %s", path, status, body)
		}
	}
	if after := listBucketNames(t, c); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("buckets changed: %v -> %v", before, after)
	}

	for _, tc := range []struct{ path, code string }{
		{"/good/a/../b", "InvalidObjectName"},
		{"/good/..", "InvalidObjectName"},
		{"/good//abs", "InvalidObjectName"},
		{"/good/nul%00byte", "InvalidObjectName"},
		{"/good/" + strings.Repeat("k", 1025), "KeyTooLongError"},
	} {
		status, body, _ := e.do("PUT", tc.path, []byte("data"), nil)
		if status != 400 || !strings.Contains(body, "<Code>"+tc.code+"</Code>") || !strings.Contains(body, "<RequestId>") {
			t.Fatalf("PUT %.40s: %d %s", tc.path, status, body)
		}
	}
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("good"), Key: aws.String("x/../y"), Body: strings.NewReader("d")})
	wantCode(t, err, "InvalidObjectName", "sdk put with ..")
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("good")})
	must(t, err, "list")
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "obj" {
		t.Fatalf("bad puts stored something: %+v", out.Contents)
	}

	// Malformed XML bodies.
	md5h := func(b []byte) http.Header {
		s := md5.Sum(b)
		return http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(s[:])}}
	}
	garbage := []byte("<Delete><Object><Key>obj</Key></Object")
	status, body, _ := e.do("POST", "/good?delete", garbage, md5h(garbage))
	if status != 400 || !strings.Contains(body, "<Code>MalformedXML</Code>") {
		t.Fatalf("malformed delete: %d %s", status, body)
	}
	valid := []byte("<Delete><Object><Key>obj</Key></Object></Delete>")
	status, body, _ = e.do("POST", "/good?delete", valid, nil)
	if status != 400 || !strings.Contains(body, "<Code>InvalidRequest</Code>") {
		t.Fatalf("delete without Content-MD5: %d %s", status, body)
	}
	tooMany := []byte("<Delete>" + strings.Repeat("<Object><Key>obj</Key></Object>", 1001) + "</Delete>")
	status, body, _ = e.do("POST", "/good?delete", tooMany, md5h(tooMany))
	if status != 400 || !strings.Contains(body, "<Code>MalformedXML</Code>") {
		t.Fatalf("1001 keys: %d %s", status, body)
	}
	huge := bytes.Repeat([]byte(" "), MaxXMLBodySize+1)
	status, body, _ = e.do("POST", "/good?delete", huge, md5h(huge))
	if status != 400 || !strings.Contains(body, "<Code>MaxMessageLengthExceeded</Code>") {
		t.Fatalf("oversized delete body: %d %.200s", status, body)
	}
	if !objectExists(t, c, "good", "obj") {
		t.Fatal("a rejected DeleteObjects deleted the object")
	}
	status, body, _ = e.do("PUT", "/newbucket", []byte("<CreateBucketConfiguration><Loc"), nil)
	if status != 400 || !strings.Contains(body, "<Code>MalformedXML</Code>") {
		t.Fatalf("malformed create bucket: %d %s", status, body)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("newbucket")}); errStatus(err) != 404 {
		t.Fatalf("malformed create bucket created it: %v", err)
	}
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("good"), Key: aws.String("mp")})
	must(t, err, "create multipart")
	status, body, _ = e.do("POST", "/good/mp?uploadId="+aws.ToString(cr.UploadId), []byte("<CompleteMultipartUpload><Part>"), nil)
	if status != 400 || !strings.Contains(body, "<Code>MalformedXML</Code>") {
		t.Fatalf("malformed complete: %d %s", status, body)
	}
	status, body, _ = e.do("PUT", "/good/mp?uploadId="+aws.ToString(cr.UploadId)+"&partNumber=0", []byte("x"), nil)
	if status != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
		t.Fatalf("part number 0: %d %s", status, body)
	}

	// Unsupported subresources and methods.
	status, body, _ = e.do("PUT", "/good?policy", []byte("{}"), nil)
	if status != 501 || !strings.Contains(body, "<Code>NotImplemented</Code>") {
		t.Fatalf("put policy: %d %s", status, body)
	}
	status, body, _ = e.do("DELETE", "/", nil, nil)
	if status != 405 || !strings.Contains(body, "<Code>MethodNotAllowed</Code>") {
		t.Fatalf("DELETE /: %d %s", status, body)
	}
}

func TestAuthentication(t *testing.T) {
	e := newTestEnv(t, false)
	root := e.root()
	ctx := context.Background()
	setupBucket(t, root, "authb")

	for _, tc := range []struct {
		name, ak, sk, code string
	}{
		{"wrong secret", rootAK, "not-the-secret", "SignatureDoesNotMatch"},
		{"unknown key id", "AKIAUNKNOWN00000", rootSK, "InvalidAccessKeyId"},
	} {
		c := e.client(tc.ak, tc.sk, false)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("authb"), Key: aws.String("intruder"), Body: strings.NewReader("x")})
		wantCode(t, err, tc.code, tc.name+" put")
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("authb"), Key: aws.String("obj")})
		wantCode(t, err, tc.code, tc.name+" delete")
		_, err = c.ListBuckets(ctx, &s3.ListBucketsInput{})
		wantCode(t, err, tc.code, tc.name+" list buckets")
	}
	if objectExists(t, root, "authb", "intruder") || !objectExists(t, root, "authb", "obj") {
		t.Fatal("unauthenticated requests changed the bucket")
	}

	// Anonymous requests are refused.
	resp, err := e.httpClient().Get(e.srv.URL + "/authb/obj")
	must(t, err, "anonymous get")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "<Code>AccessDenied</Code>") || resp.Header.Get("x-amz-request-id") == "" {
		t.Fatalf("anonymous: %d %s", resp.StatusCode, b)
	}

	// Presigned GET through plain net/http, and a tampered one.
	ps, err := s3.NewPresignClient(root).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("authb"), Key: aws.String("obj")},
		s3.WithPresignExpires(10*time.Minute))
	must(t, err, "presign")
	resp, err = e.httpClient().Get(ps.URL)
	must(t, err, "presigned get")
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "content" || resp.Header.Get("Content-Length") != "7" {
		t.Fatalf("presigned get: %d %q", resp.StatusCode, b)
	}
	resp, err = e.httpClient().Get(strings.Replace(ps.URL, "/authb/obj", "/authb/other", 1))
	must(t, err, "tampered presigned get")
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "<Code>SignatureDoesNotMatch</Code>") {
		t.Fatalf("tampered presigned get: %d %s", resp.StatusCode, b)
	}
}

func TestAuthorization(t *testing.T) {
	e := newTestEnv(t, false)
	root := e.root()
	ctx := context.Background()
	setupBucket(t, root, sharedBucket)
	setupBucket(t, root, "private")
	r := e.client(readerAK, readerSK, false)

	if names := listBucketNames(t, r); len(names) != 1 || names[0] != sharedBucket {
		t.Fatalf("reader sees buckets %v", names)
	}
	g, err := r.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(sharedBucket), Key: aws.String("obj")})
	must(t, err, "reader get")
	if string(readAll(t, g.Body)) != "content" {
		t.Fatal("reader got wrong content")
	}
	_, err = r.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(sharedBucket), Key: aws.String("obj")})
	must(t, err, "reader head")
	_, err = r.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(sharedBucket)})
	must(t, err, "reader list")

	denied := []struct {
		name string
		call func() error
	}{
		{"put", func() error {
			_, err := r.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(sharedBucket), Key: aws.String("new"), Body: strings.NewReader("x")})
			return err
		}},
		{"delete", func() error {
			_, err := r.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(sharedBucket), Key: aws.String("obj")})
			return err
		}},
		{"copy within shared", func() error {
			_, err := r.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(sharedBucket), Key: aws.String("copy"), CopySource: aws.String(sharedBucket + "/obj")})
			return err
		}},
		{"copy from private", func() error {
			_, err := r.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(sharedBucket), Key: aws.String("copy"), CopySource: aws.String("private/obj")})
			return err
		}},
		{"create multipart", func() error {
			_, err := r.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(sharedBucket), Key: aws.String("mp")})
			return err
		}},
		{"get private", func() error {
			_, err := r.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("private"), Key: aws.String("obj")})
			return err
		}},
		{"list private", func() error {
			_, err := r.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("private")})
			return err
		}},
		{"create bucket", func() error {
			_, err := r.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("readers-own")})
			return err
		}},
		{"delete bucket", func() error {
			_, err := r.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(sharedBucket)})
			return err
		}},
	}
	for _, d := range denied {
		wantCode(t, d.call(), "AccessDenied", "reader "+d.name)
	}
	del, err := r.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(sharedBucket), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("obj")}}}})
	must(t, err, "reader delete objects")
	if len(del.Deleted) != 0 || len(del.Errors) != 1 || aws.ToString(del.Errors[0].Code) != "AccessDenied" {
		t.Fatalf("reader delete objects: %+v %+v", del.Deleted, del.Errors)
	}
	if !objectExists(t, root, sharedBucket, "obj") || objectExists(t, root, sharedBucket, "new") || objectExists(t, root, sharedBucket, "copy") {
		t.Fatal("denied requests changed the bucket")
	}
	if names := listBucketNames(t, root); len(names) != 2 {
		t.Fatalf("root sees %v", names)
	}

	// A principal granted only a prefix sees the bucket (BucketVisibility)
	// and may list that prefix, not the whole bucket.
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(sharedBucket), Key: aws.String("docs/a"), Body: strings.NewReader("a")})
	must(t, err, "put docs/a")
	d := e.client(docsAK, docsSK, false)
	if names := listBucketNames(t, d); len(names) != 1 || names[0] != sharedBucket {
		t.Fatalf("docs reader sees buckets %v", names)
	}
	lo, err := d.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(sharedBucket), Prefix: aws.String("docs/")})
	must(t, err, "docs reader lists docs/")
	if len(lo.Contents) != 1 || aws.ToString(lo.Contents[0].Key) != "docs/a" {
		t.Fatalf("docs listing %+v", lo.Contents)
	}
	_, err = d.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(sharedBucket)})
	wantCode(t, err, "AccessDenied", "docs reader lists the whole bucket")
	_, err = d.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(sharedBucket), Key: aws.String("obj")})
	wantCode(t, err, "AccessDenied", "docs reader reads outside docs/")
}

// TestCrossBackendCopy copies between buckets on two backends: the proxy
// streams Get -> Put.
func TestCrossBackendCopy(t *testing.T) {
	e := newTestEnv(t, false)
	c := e.root()
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("local-bkt")})
	must(t, err, "create local")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(remoteBucket)})
	must(t, err, "create remote")
	if err := e.fs2.HeadBucket(ctx, remoteBucket); err != nil {
		t.Fatalf("remote bucket is not on the second backend: %v", err)
	}
	data := pattern(700 << 10)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("local-bkt"), Key: aws.String("src"), Body: bytes.NewReader(data),
		ContentType: aws.String("image/png"), Metadata: map[string]string{"origin": "local"}})
	must(t, err, "put source")

	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(remoteBucket), Key: aws.String("copied"), CopySource: aws.String("local-bkt/src")})
	must(t, err, "cross copy COPY")
	g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(remoteBucket), Key: aws.String("copied")})
	must(t, err, "get copy")
	if got := readAll(t, g.Body); !bytes.Equal(got, data) || g.Metadata["origin"] != "local" || aws.ToString(g.ContentType) != "image/png" ||
		aws.ToString(g.ETag) != aws.ToString(put.ETag) {
		t.Fatalf("cross copy: %d bytes, meta %v, type %q", len(got), g.Metadata, aws.ToString(g.ContentType))
	}
	if _, err := e.fs2.HeadObject(ctx, remoteBucket, "copied", storageGet()); err != nil {
		t.Fatalf("copy not on the second backend: %v", err)
	}

	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(remoteBucket), Key: aws.String("replaced"), CopySource: aws.String("local-bkt/src"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"origin": "new"}})
	must(t, err, "cross copy REPLACE")
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(remoteBucket), Key: aws.String("replaced")})
	must(t, err, "head replaced")
	if h.Metadata["origin"] != "new" || aws.ToString(h.ContentType) == "image/png" {
		t.Fatalf("cross REPLACE: %v %q", h.Metadata, aws.ToString(h.ContentType))
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(remoteBucket), Key: aws.String("never"), CopySource: aws.String("local-bkt/src"),
		CopySourceIfNoneMatch: put.ETag})
	wantCode(t, err, "PreconditionFailed", "cross copy condition")

	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(remoteBucket), Key: aws.String("parts")})
	must(t, err, "create multipart")
	pc, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(remoteBucket), Key: aws.String("parts"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("local-bkt/src"), CopySourceRange: aws.String("bytes=100-199")})
	must(t, err, "cross part copy")
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(remoteBucket), Key: aws.String("parts"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pc.CopyPartResult.ETag}}}})
	must(t, err, "complete")
	g, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(remoteBucket), Key: aws.String("parts")})
	must(t, err, "get parts")
	if got := readAll(t, g.Body); !bytes.Equal(got, data[100:200]) {
		t.Fatalf("cross part copy: %d bytes", len(got))
	}
}

// rawPut sends a signed PUT (UNSIGNED-PAYLOAD) declaring declared bytes but
// sending only body, then closing its side; it returns the response.
func rawPut(t *testing.T, e *testEnv, path string, declared int64, body []byte, extra http.Header) (int, string) {
	t.Helper()
	hdr := http.Header{"X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD"}}
	for k, v := range extra {
		hdr[k] = v
	}
	req := e.signedRequest("PUT", path, nil, hdr, rootAK, rootSK)
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	must(t, err, "dial")
	defer conn.Close()
	var sb strings.Builder
	fmt.Fprintf(&sb, "PUT %s HTTP/1.1\r\nHost: %s\r\n", req.URL.RequestURI(), req.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&sb, "%s: %s\r\n", k, v)
		}
	}
	if declared >= 0 {
		fmt.Fprintf(&sb, "Content-Length: %d\r\n", declared)
	}
	sb.WriteString("\r\n")
	_, err = conn.Write(append([]byte(sb.String()), body...))
	must(t, err, "write request")
	if declared > int64(len(body)) && declared < 1<<20 {
		conn.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	must(t, err, "read response")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBodyLengthErrors(t *testing.T) {
	e := newTestEnv(t, false)
	c := e.root()
	setupBucket(t, c, "bodies")

	status, body := rawPut(t, e, "/bodies/short", 100, []byte("only fifty bytes..................................."), nil)
	if status != 400 || !strings.Contains(body, "<Code>IncompleteBody</Code>") {
		t.Fatalf("short body: %d %s", status, body)
	}
	status, body = rawPut(t, e, "/bodies/huge", MaxPutSize+1, nil, nil)
	if status != 400 || !strings.Contains(body, "<Code>EntityTooLarge</Code>") {
		t.Fatalf("too large: %d %s", status, body)
	}
	status, body = rawPut(t, e, "/bodies/chunked", -1, []byte("5\r\nhello\r\n0\r\n\r\n"), http.Header{"Transfer-Encoding": {"chunked"}})
	if status != 411 || !strings.Contains(body, "<Code>MissingContentLength</Code>") {
		t.Fatalf("no content length: %d %s", status, body)
	}
	// A signed payload hash that does not match the body: nothing stored.
	req := e.signedRequest("PUT", "/bodies/tampered", []byte("original"), nil, rootAK, rootSK)
	req.Body = io.NopCloser(strings.NewReader("tampered"))
	resp, err := e.httpClient().Do(req)
	must(t, err, "tampered put")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "<Code>XAmzContentSHA256Mismatch</Code>") {
		t.Fatalf("tampered body: %d %s", resp.StatusCode, b)
	}
	for _, k := range []string{"short", "huge", "chunked", "tampered"} {
		if objectExists(t, c, "bodies", k) {
			t.Fatalf("%s was stored", k)
		}
	}
	status, _ = rawPut(t, e, "/bodies/exact", 5, []byte("hello"), nil)
	if status != 200 || !objectExists(t, c, "bodies", "exact") {
		t.Fatalf("exact put: %d", status)
	}
}

// TestObservability checks the request id, the access log and the metrics,
// and that a panic becomes a logged 500 InternalError.
func TestObservability(t *testing.T) {
	e := newTestEnv(t, false)
	c := e.root()
	ctx := context.Background()
	setupBucket(t, c, "obs")
	data := pattern(12345)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("obs"), Key: aws.String("dir/k"), Body: bytes.NewReader(data)})
	must(t, err, "put")
	req := e.signedRequest("GET", "/obs/dir/k", nil, nil, rootAK, rootSK)
	resp, err := e.httpClient().Do(req)
	must(t, err, "get")
	got := readAll(t, resp.Body)
	reqID := resp.Header.Get("x-amz-request-id")
	if resp.StatusCode != 200 || !bytes.Equal(got, data) || len(reqID) != 16 || resp.Header.Get("Content-Length") != strconv.Itoa(len(data)) ||
		resp.Header.Get("Last-Modified") == "" || !strings.HasPrefix(resp.Header.Get("ETag"), `"`) {
		t.Fatalf("get: %d, id %q, headers %v", resp.StatusCode, reqID, resp.Header)
	}

	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(panicBucket), Key: aws.String("k")})
	if errStatus(err) != 500 || errCode(err) != "InternalError" {
		t.Fatalf("panic: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("obs")})
	must(t, err, "server still serves after a panic")
	setupBucket(t, c, boomBucket)
	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(boomBucket), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("boom")}, {Key: aws.String("obj")}}}})
	must(t, err, "delete objects with a panicking key")
	if len(del.Deleted) != 1 || aws.ToString(del.Deleted[0].Key) != "obj" || len(del.Errors) != 1 || aws.ToString(del.Errors[0].Code) != "InternalError" {
		t.Fatalf("panicking delete: %+v %+v", del.Deleted, del.Errors)
	}

	if v := e.metric("dgp_s3_requests_total", map[string]string{"op": "PutObject", "status": "200"}); v != 3 {
		t.Fatalf("PutObject 200 count %v, want 3", v)
	}
	if v := e.metric("dgp_s3_requests_total", map[string]string{"op": "GetObject", "status": "500"}); v != 1 {
		t.Fatalf("GetObject 500 count %v, want 1", v)
	}
	if v := e.metric("dgp_s3_request_duration_seconds", map[string]string{"op": "GetObject"}); v != 2 {
		t.Fatalf("GetObject duration samples %v, want 2", v)
	}
	if v := e.metric("dgp_s3_bytes_received_total", nil); v < float64(len(data)+2*len("content")) {
		t.Fatalf("bytes received %v", v)
	}
	if v := e.metric("dgp_s3_bytes_sent_total", nil); v < float64(len(data)) {
		t.Fatalf("bytes sent %v", v)
	}

	var access, panicLine map[string]any
	var deletePanic bool
	for _, l := range e.logs.lines(t) {
		if l["request_id"] == reqID && l["op"] == "GetObject" {
			access = l
		}
		if l["level"] == "error" && l["panic"] == "injected fault" {
			panicLine = l
		}
		if l["level"] == "error" && l["panic"] == "injected delete fault" {
			deletePanic = true
		}
	}
	if access == nil {
		t.Fatalf("no access line for request %s in:\n%s", reqID, e.logs.String())
	}
	for k, want := range map[string]any{
		"component": "s3api", "level": "info", "method": "GET", "bucket": "obs", "key": "dir/k", "status": float64(200),
		"bytes_in": float64(0), "bytes_out": float64(len(data)), "access_key_id": rootAK,
	} {
		if access[k] != want {
			t.Errorf("access log %s = %v, want %v", k, access[k], want)
		}
	}
	if _, ok := access["duration_ms"].(float64); !ok {
		t.Errorf("access log duration_ms missing: %v", access)
	}
	if panicLine == nil || !strings.Contains(fmt.Sprint(panicLine["stack"]), "goroutine") || !deletePanic {
		t.Fatalf("no panic line with a stack: %v (delete panic logged: %v)", panicLine, deletePanic)
	}
	logs := e.logs.String()
	if strings.Contains(logs, rootSK) || strings.Contains(logs, "Signature=") || strings.Contains(logs, "X-Amz-Signature") {
		t.Fatal("logs contain a secret or a signature")
	}
}

func storageGet() storage.GetOptions { return storage.GetOptions{} }
