package s3backend

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// TestErrorAnswerHeaders: the headers S3 sends with a delete marker's
// 404 / 405 and with 304 / 412 answers are kept on the returned error, in
// the same way on the fast path and the SDK path; versioned reads map a
// bare 404 to NoSuchVersion; the new S3 codes keep their code.
func TestErrorAnswerHeaders(t *testing.T) {
	type call func(ctx context.Context, b *Backend) error
	get := func(version string) call {
		return func(ctx context.Context, b *Backend) error {
			obj, err := b.GetObject(ctx, "bkt", "k", storage.GetOptions{VersionID: version})
			if err == nil {
				obj.Body.Close()
			}
			return err
		}
	}
	head := func(version string) call {
		return func(ctx context.Context, b *Backend) error {
			_, err := b.HeadObject(ctx, "bkt", "k", storage.GetOptions{VersionID: version})
			return err
		}
	}
	put := func(ctx context.Context, b *Backend) error {
		_, err := b.PutObject(ctx, "bkt", "k", strings.NewReader("abc"), 3, storage.PutOptions{})
		return err
	}
	marker := map[string]string{"X-Amz-Delete-Marker": "true", "X-Amz-Version-Id": "dm1"}
	validators := map[string]string{"ETag": `"abc"`, "Last-Modified": "Wed, 21 Oct 2025 07:28:00 GMT", "X-Amz-Version-Id": "v7"}
	wantMarker := [][2]string{{"x-amz-delete-marker", "true"}, {"x-amz-version-id", "dm1"}}
	wantValidators := [][2]string{{"x-amz-version-id", "v7"}, {"ETag", `"abc"`}, {"Last-Modified", "Wed, 21 Oct 2025 07:28:00 GMT"}}
	tests := []struct {
		name        string
		call        call
		status      int
		header      map[string]string
		body        string
		wantCode    string
		wantHeaders [][2]string
	}{
		{"GET latest is a delete marker", get(""), 404, marker, s3ErrorXML("NoSuchKey", "The specified key does not exist."), "NoSuchKey", wantMarker},
		{"HEAD latest is a delete marker", head(""), 404, marker, "", "NoSuchKey", wantMarker},
		{"GET a delete marker's version", get("dm1"), 405, marker, s3ErrorXML("MethodNotAllowed", "The specified method is not allowed against this resource."), "MethodNotAllowed", wantMarker},
		{"HEAD a delete marker's version", head("dm1"), 405, marker, "", "MethodNotAllowed", wantMarker},
		{"GET 304", get(""), 304, validators, "", "NotModified", wantValidators},
		{"HEAD 412", head(""), 412, validators, "", "PreconditionFailed", wantValidators},
		{"GET 412", get("v7"), 412, validators, s3ErrorXML("PreconditionFailed", "At least one of the pre-conditions you specified did not hold"), "PreconditionFailed", wantValidators},
		{"GET 404 keeps no validators", get(""), 404, map[string]string{"ETag": `"abc"`}, s3ErrorXML("NoSuchKey", "x"), "NoSuchKey", nil},
		{"PUT 412 without validators", put, 412, nil, s3ErrorXML("PreconditionFailed", "x"), "PreconditionFailed", nil},
		{"GET NoSuchVersion", get("nope"), 404, nil, s3ErrorXML("NoSuchVersion", "The specified version does not exist."), "NoSuchVersion", nil},
		{"HEAD a missing version", head("nope"), 404, nil, "", "NoSuchVersion", nil},
		{"GET a bad version id", get("?"), 400, nil, s3ErrorXML("InvalidArgument", "Invalid version id specified"), "InvalidArgument", nil},
		{"PUT InvalidRetentionPeriod", put, 400, nil, s3ErrorXML("InvalidRetentionPeriod", "x"), "InvalidRetentionPeriod", nil},
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
					w.Header().Set("Content-Type", "application/xml")
				}
				w.WriteHeader(tt.status)
				if r.Method != http.MethodHead && tt.status != http.StatusNotModified {
					_, _ = io.WriteString(w, tt.body)
				}
			})
			for _, path := range []struct {
				name string
				b    *Backend
			}{{"fast path", fast}, {"SDK path", sdk}} {
				err := tt.call(ctx, path.b)
				var se *s3err.Error
				if !errors.As(err, &se) {
					t.Fatalf("%s: error %v, want *s3err.Error", path.name, err)
				}
				if se.Code != tt.wantCode || se.Status != tt.status {
					t.Errorf("%s: %s/%d, want %s/%d", path.name, se.Code, se.Status, tt.wantCode, tt.status)
				}
				if !reflect.DeepEqual(se.Headers, tt.wantHeaders) {
					t.Errorf("%s: headers %v, want %v", path.name, se.Headers, tt.wantHeaders)
				}
			}
		})
	}
}

func TestTableErrorCoversVersioningCodes(t *testing.T) {
	for _, e := range []*s3err.Error{
		s3err.ErrNoSuchVersion, s3err.ErrInvalidBucketState, s3err.ErrIllegalVersioningConfiguration,
		s3err.ErrObjectLockConfigurationNotFound, s3err.ErrNoSuchObjectLockConfiguration,
		s3err.ErrInvalidRetentionPeriod, s3err.ErrAccessControlListNotSupported, s3err.ErrInvalidPartNumber,
	} {
		if got := tableError(e.Code); got != e {
			t.Errorf("tableError(%q) = %v, want the table entry", e.Code, got)
		}
	}
}

// TestWithAnswerHeadersLeavesTableAlone: attaching headers copies.
func TestWithAnswerHeadersLeavesTableAlone(t *testing.T) {
	h := http.Header{"X-Amz-Delete-Marker": {"true"}}
	got := withAnswerHeaders(s3err.ErrNoSuchKey, 404, h)
	if len(got.Headers) != 1 || len(s3err.ErrNoSuchKey.Headers) != 0 {
		t.Fatalf("headers %v, table entry %v", got.Headers, s3err.ErrNoSuchKey.Headers)
	}
	if withAnswerHeaders(s3err.ErrNoSuchKey, 404, nil) != s3err.ErrNoSuchKey {
		t.Errorf("no headers: want the error unchanged")
	}
}

// TestTranslateFollowsAWS: where MinIO answers a code with another status
// than AWS, or refuses a locked version with InvalidRequest, dgp answers
// as AWS does.
func TestTranslateFollowsAWS(t *testing.T) {
	for _, c := range []struct {
		status     int
		code, msg  string
		wantCode   string
		wantStatus int
	}{
		{400, "InvalidBucketState", "", "InvalidBucketState", 409},
		{400, "NoSuchObjectLockConfiguration", "", "NoSuchObjectLockConfiguration", 404},
		{400, "InvalidRequest", "Object is WORM protected and cannot be overwritten", "AccessDenied", 403},
		{400, "InvalidRequest", "Bucket is missing Object Lock Configuration", "InvalidRequest", 400},
		{418, "SomethingElse", "teapot", "SomethingElse", 418},
	} {
		got := translateAnswer(c.status, c.code, c.msg, kindObject, nil)
		if got.Code != c.wantCode || got.Status != c.wantStatus {
			t.Errorf("translateAnswer(%d, %q, %q) = %d %s, want %d %s", c.status, c.code, c.msg, got.Status, got.Code, c.wantStatus, c.wantCode)
		}
	}
}
