package admin

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

func TestAttachment(t *testing.T) {
	for key, want := range map[string]string{
		"a/b/report.pdf":      `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`,
		"dir/":                `attachment; filename="dir"; filename*=UTF-8''dir`,
		`x/evil"; name=.html`: `attachment; filename="evil__ name_.html"; filename*=UTF-8''evil%22%3B%20name%3D.html`,
		"photos/été 2026.jpg": `attachment; filename="_t_ 2026.jpg"; filename*=UTF-8''%C3%A9t%C3%A9%202026.jpg`,
		"line\r\nbreak":       `attachment; filename="line__break"; filename*=UTF-8''line%0D%0Abreak`,
		"/":                   `attachment; filename="download"; filename*=UTF-8''download`,
	} {
		if got := attachment(key); got != want {
			t.Errorf("attachment(%q) = %s, want %s", key, got, want)
		}
	}
}

// TestObjectError: storage errors are translated once, naming the bucket
// and key; unknown S3 codes keep their status in the API's style.
func TestObjectError(t *testing.T) {
	for _, tc := range []struct {
		err     error
		status  int
		code    string
		message string
	}{
		{s3err.ErrNoSuchBucket, http.StatusNotFound, "no_such_bucket", `bucket "photos" does not exist`},
		{fmt.Errorf("list: %w", s3err.ErrNoSuchKey), http.StatusNotFound, "no_such_key", `no object "a/b.txt" in bucket "photos"`},
		{s3err.ErrPreconditionFailed, http.StatusPreconditionFailed, "precondition_failed", ""},
		{s3err.ErrAccessDenied, http.StatusBadGateway, "storage_access_denied", ""},
		{s3err.ErrNoSuchUpload, http.StatusNotFound, "no_such_upload", s3err.ErrNoSuchUpload.Message},
		{s3err.ErrSlowDown, http.StatusServiceUnavailable, "slow_down", "the storage backend failed: " + s3err.ErrSlowDown.Message},
		{errors.New("dial tcp: connection refused"), http.StatusBadGateway, "storage_unavailable",
			"the storage backend did not answer: dial tcp: connection refused"},
		{errBodyTimeout(0), http.StatusBadRequest, "request_timeout", ""},
	} {
		var ae *apiError
		if !errors.As(objectError(tc.err, "photos", "a/b.txt"), &ae) {
			t.Fatalf("%v: not an apiError", tc.err)
		}
		if ae.Status != tc.status || ae.Code != tc.code || (tc.message != "" && ae.Message != tc.message) || ae.Message == "" {
			t.Errorf("%v: %d %s %q, want %d %s %q", tc.err, ae.Status, ae.Code, ae.Message, tc.status, tc.code, tc.message)
		}
	}
}
