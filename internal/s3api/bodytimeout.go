package s3api

import (
	"net/http"
	"time"

	"github.com/dgp-proxy/dgp/internal/httpbody"
	"github.com/dgp-proxy/dgp/internal/s3err"
)

// DefaultBodyReadTimeout is how long a request body may go without
// sending a byte before the request is answered 400 RequestTimeout.
const DefaultBodyReadTimeout = 20 * time.Second

// deadlineBody is the request body guard of internal/httpbody: a body
// that sends nothing for the timeout fails with S3's RequestTimeout.
type deadlineBody = httpbody.Deadline

// requestTimeout is S3's answer to a client that stopped sending its body.
func requestTimeout(_ time.Duration, cause error) error {
	if cause == nil {
		return s3err.ErrRequestTimeout
	}
	return s3err.ErrRequestTimeout.WithCause(cause)
}

// hasBody reports whether r carries a request body.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}
