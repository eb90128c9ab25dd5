package s3backend

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// s3ErrorXML is an S3 error body as S3 and MinIO send it.
func s3ErrorXML(code, msg string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>` + code + `</Code><Message>` + msg + `</Message>` +
		`<Key>k</Key><BucketName>bkt</BucketName><Resource>/bkt/k</Resource>` +
		`<RequestId>REQ123</RequestId><HostId>HOST</HostId></Error>`
}

// TestFastPathErrorTranslation answers every operation with raw error
// answers (XML bodies, no bodies, bodies that are not S3 errors) and checks
// that the fast path translates each one to the expected S3 error, exactly
// as the SDK path does (code, status and message).
func TestFastPathErrorTranslation(t *testing.T) {
	type call func(ctx context.Context, b *Backend) error
	get := func(ctx context.Context, b *Backend) error {
		obj, err := b.GetObject(ctx, "bkt", "k", storage.GetOptions{})
		if err == nil {
			obj.Body.Close()
		}
		return err
	}
	head := func(ctx context.Context, b *Backend) error {
		_, err := b.HeadObject(ctx, "bkt", "k", storage.GetOptions{})
		return err
	}
	put := func(ctx context.Context, b *Backend) error {
		_, err := b.PutObject(ctx, "bkt", "k", strings.NewReader("abc"), 3, storage.PutOptions{})
		return err
	}
	part := func(ctx context.Context, b *Backend) error {
		_, err := b.UploadPart(ctx, "bkt", "k", "up", 1, strings.NewReader("abc"), 3, storage.PartOptions{})
		return err
	}
	tests := []struct {
		name     string
		call     call
		status   int
		header   map[string]string
		body     string
		wantCode string
		wantHTTP int
		wantMsg  string // "" = not checked beyond equality of the two paths
	}{
		{"GET NoSuchKey", get, 404, nil, s3ErrorXML("NoSuchKey", "The specified key does not exist."), "NoSuchKey", 404, "The specified key does not exist."},
		{"GET NoSuchBucket", get, 404, nil, s3ErrorXML("NoSuchBucket", "The specified bucket does not exist"), "NoSuchBucket", 404, "The specified bucket does not exist"},
		{"GET PreconditionFailed", get, 412, nil, s3ErrorXML("PreconditionFailed", "At least one of the pre-conditions you specified did not hold"), "PreconditionFailed", 412, ""},
		{"GET 304 without body", get, 304, nil, "", "NotModified", 304, ""},
		{"GET InvalidRange", get, 416, nil, s3ErrorXML("InvalidRange", "The requested range is not satisfiable"), "InvalidRange", 416, ""},
		{"GET InvalidAccessKeyId", get, 403, nil, s3ErrorXML("InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records."), "InvalidAccessKeyId", 403, ""},
		{"GET SignatureDoesNotMatch", get, 403, nil, s3ErrorXML("SignatureDoesNotMatch", "The request signature we calculated does not match"), "SignatureDoesNotMatch", 403, ""},
		{"GET unlisted code passes through", get, 400, nil, s3ErrorXML("RequestTimeout", "Your socket connection timed out"), "RequestTimeout", 400, "Your socket connection timed out"},
		{"GET PermanentRedirect", get, 301, nil, s3ErrorXML("PermanentRedirect", "use the other endpoint"), "PermanentRedirect", 301, ""},
		{"GET 502 with an HTML body", get, 502, map[string]string{"Content-Type": "text/html"}, "<html><body>Bad Gateway</body></html>", "InternalError", 502, ""},
		{"GET 500 with a broken XML body", get, 500, nil, "<Error><Code>Intern", "InternalError", 500, ""},
		{"GET message without code", get, 403, nil, "<Error><Message>no code here</Message></Error>", "AccessDenied", 403, ""},
		{"GET 200 with a bad Last-Modified", get, 200, map[string]string{"Last-Modified": "yesterday"}, "data", "InternalError", 500, "The storage backend sent an unreadable response."},
		{"HEAD 200 with a bad Last-Modified", head, 200, map[string]string{"Last-Modified": "yesterday"}, "", "InternalError", 500, "The storage backend sent an unreadable response."},
		{"HEAD 404", head, 404, nil, "", "NoSuchKey", 404, ""},
		{"HEAD 403", head, 403, nil, "", "AccessDenied", 403, ""},
		{"HEAD 412", head, 412, nil, "", "PreconditionFailed", 412, ""},
		{"HEAD 304", head, 304, nil, "", "NotModified", 304, ""},
		{"HEAD 400", head, 400, nil, "", "InvalidRequest", 400, ""},
		{"HEAD 409", head, 409, nil, "", "Conflict", 409, ""},
		{"PUT BadDigest", put, 400, nil, s3ErrorXML("BadDigest", "The Content-Md5 you specified did not match what we received."), "BadDigest", 400, ""},
		{"PUT PreconditionFailed", put, 412, nil, s3ErrorXML("PreconditionFailed", "At least one of the pre-conditions you specified did not hold"), "PreconditionFailed", 412, ""},
		{"PUT SlowDown keeps 503", put, 503, nil, s3ErrorXML("SlowDown", "Please reduce your request rate."), "SlowDown", 503, "Please reduce your request rate."},
		{"PUT EntityTooLarge", put, 400, nil, s3ErrorXML("EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."), "EntityTooLarge", 400, ""},
		{"PUT 404 without body", put, 404, nil, "", "NoSuchKey", 404, ""},
		{"UploadPart NoSuchUpload", part, 404, nil, s3ErrorXML("NoSuchUpload", "The specified multipart upload does not exist."), "NoSuchUpload", 404, ""},
		{"UploadPart 404 without body", part, 404, nil, "", "NoSuchUpload", 404, ""},
		{"UploadPart InvalidArgument", part, 400, nil, s3ErrorXML("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive"), "InvalidArgument", 400, "Part number must be an integer between 1 and 10000, inclusive"},
	}
	stub := newS3Stub(t)
	fast, sdk := stubBackends(t, stub, Options{Endpoint: "http://minio.test:9000", ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stub.setAnswer(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				if tt.body != "" && r.Method != http.MethodHead {
					if _, ok := tt.header["Content-Type"]; !ok {
						w.Header().Set("Content-Type", "application/xml")
					}
				}
				w.Header().Set("X-Amz-Request-Id", "REQ123")
				w.WriteHeader(tt.status)
				if r.Method != http.MethodHead {
					_, _ = io.WriteString(w, tt.body)
				}
			})
			fastErr := tt.call(ctx, fast)
			sdkErr := tt.call(ctx, sdk)
			var fe, se *s3err.Error
			if !errors.As(fastErr, &fe) || !errors.As(sdkErr, &se) {
				t.Fatalf("errors: fast path %v, SDK %v; want *s3err.Error from both", fastErr, sdkErr)
			}
			if fe.Code != tt.wantCode || fe.Status != tt.wantHTTP {
				t.Errorf("fast path: %s/%d (%v), want %s/%d", fe.Code, fe.Status, fastErr, tt.wantCode, tt.wantHTTP)
			}
			if fe.Code != se.Code || fe.Status != se.Status || fe.Message != se.Message {
				t.Errorf("fast path %s/%d %q, SDK %s/%d %q", fe.Code, fe.Status, fe.Message, se.Code, se.Status, se.Message)
			}
			if tt.wantMsg != "" && fe.Message != tt.wantMsg {
				t.Errorf("fast path message %q, want %q", fe.Message, tt.wantMsg)
			}
			if fe.Err == nil {
				t.Errorf("fast path error wraps no cause")
			}
			var ue *upstreamError
			if tt.status >= 300 && (!errors.As(fastErr, &ue) || ue.Status != tt.status) {
				t.Errorf("fast path error does not wrap the upstream answer: %v", fastErr)
			}
		})
	}
}

// TestUpstreamErrorReadsLikeTheSDKs: translate accepts the fast path's
// cause as it accepts an SDK error.
func TestUpstreamErrorReadsLikeTheSDKs(t *testing.T) {
	ue := &upstreamError{Status: 404, Code: "NoSuchUpload", Message: "gone", RequestID: "r"}
	got := translate(ue, kindUpload)
	if !errors.Is(got, s3err.ErrNoSuchUpload) || !errors.Is(got, ue) {
		t.Fatalf("translate(upstreamError) = %v", got)
	}
	if !strings.Contains(ue.Error(), "NoSuchUpload") || !strings.Contains(ue.Error(), "404") {
		t.Errorf("Error() = %q", ue.Error())
	}
}
