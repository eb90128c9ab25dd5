package s3api

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"

	"github.com/dgp-proxy/dgp/internal/httpstatus"
	"github.com/dgp-proxy/dgp/internal/vhost"
)

// Write operations a WriteHook reports.
const (
	WritePut      = "put"
	WriteCopy     = "copy"
	WriteComplete = "complete"
	WriteDelete   = "delete"
)

// maxDeleteBody bounds the DeleteObjects body a WriteHook keeps to learn
// the keys deleted (1,000 keys of up to 1,024 bytes, with their XML).
const maxDeleteBody = 2 << 20

// OnWrite is told of an object write dgp served successfully: bucket and
// key as the client named them, op one of the Write* constants. It runs
// before the answer is sent, so a durable record it makes exists before
// the client sees the write acknowledged.
type OnWrite func(ctx context.Context, bucket, key, op string)

// WriteHook wraps the S3 handler next: after a 2xx answer to PutObject,
// CopyObject, CompleteMultipartUpload, DeleteObject or DeleteObjects
// (each key it lists), it calls onWrite. Subresource writes (tagging, acl,
// retention, legal hold), parts and browser POST uploads are not reported
// (the jobs' periodic reconcile covers the latter). covers, when not nil,
// says whether a bucket matters at all, so other requests pass untouched.
func WriteHook(next http.Handler, domains []string, covers func(bucket string) bool, onWrite OnWrite) http.Handler {
	d := vhost.Normalise(domains)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut && r.Method != http.MethodPost && r.Method != http.MethodDelete {
			next.ServeHTTP(w, r)
			return
		}
		t := parseTarget(r.Host, r.URL.Path, d)
		if t.Bucket == "" || (covers != nil && !covers(t.Bucket)) {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		op, multi := writeOp(r.Method, t.HasKey, q, r.Header)
		if op == "" {
			next.ServeHTTP(w, r)
			return
		}
		var body *cappedBuffer
		if multi {
			body = &cappedBuffer{max: maxDeleteBody}
			r.Body = readCloser{io.TeeReader(r.Body, body), r.Body}
		}
		sw := &httpstatus.Recorder{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if st := sw.Status(); st < 200 || st > 299 {
			return
		}
		if !multi {
			onWrite(r.Context(), t.Bucket, t.Key, op)
			return
		}
		if body.over {
			return
		}
		var del struct {
			Objects []struct {
				Key string `xml:"Key"`
			} `xml:"Object"`
		}
		if xml.Unmarshal(body.Bytes(), &del) != nil {
			return
		}
		for _, o := range del.Objects {
			onWrite(r.Context(), t.Bucket, o.Key, WriteDelete)
		}
	})
}

// writeOp classifies a request; multi is DeleteObjects.
func writeOp(method string, hasKey bool, q map[string][]string, h http.Header) (op string, multi bool) {
	has := func(k string) bool { _, ok := q[k]; return ok }
	for _, sub := range []string{"tagging", "acl", "retention", "legal-hold", "partNumber"} {
		if has(sub) {
			return "", false
		}
	}
	switch {
	case method == http.MethodPost && !hasKey && has("delete"):
		return WriteDelete, true
	case !hasKey:
		return "", false
	case method == http.MethodPut && !has("uploadId"):
		if h.Get("X-Amz-Copy-Source") != "" {
			return WriteCopy, false
		}
		return WritePut, false
	case method == http.MethodPost && has("uploadId"):
		return WriteComplete, false
	case method == http.MethodDelete && !has("uploadId"):
		return WriteDelete, false
	}
	return "", false
}

// cappedBuffer keeps up to max bytes and notes an overflow.
type cappedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.Len()+len(p) > c.max {
		c.over = true
		return len(p), nil
	}
	return c.Buffer.Write(p)
}

type readCloser struct {
	io.Reader
	io.Closer
}
