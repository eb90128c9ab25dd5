package s3api

import (
	"mime"
	"net/http"
	"strings"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// isPostObject reports whether a POST to a bucket is a browser-based upload
// (a multipart/form-data body).
func isPostObject(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && strings.EqualFold(mt, "multipart/form-data")
}

// postObject serves POST Object (browser-based upload with a SigV4 POST
// policy). TODO(issue 12): implement.
func (s *Server) postObject(rq *request) error {
	return s3err.ErrNotImplemented.WithMessage("POST Object is not implemented.")
}
