package s3backend

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	smithytime "github.com/aws/smithy-go/time"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// fastTarget returns the fast-path target of an object request, or nil when
// the request takes the SDK path (no fast path, an empty key, which the SDK
// refuses, or a bucket the fast path does not handle).
func (b *Backend) fastTarget(ctx context.Context, bucket, key string) *target {
	if b.fast == nil || key == "" {
		return nil
	}
	return b.fast.targetFor(ctx, bucket)
}

// fastGetObject is GetObject on the fast path; rng is the validated Range
// header ("" for none).
func (b *Backend) fastGetObject(ctx context.Context, t *target, key, rng string, opts storage.GetOptions) (*storage.Object, error) {
	resp, err := b.fastRead(ctx, http.MethodGet, t, key, rng, opts)
	if err != nil {
		return nil, err
	}
	info, contentLength, contentRange, err := objectInfoFromHeaders(resp, key)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	return &storage.Object{Info: info, Body: resp.Body, ContentLength: contentLength, ContentRange: contentRange}, nil
}

// fastHeadObject is HeadObject on the fast path.
func (b *Backend) fastHeadObject(ctx context.Context, t *target, key, rng string, opts storage.GetOptions) (*storage.ObjectInfo, error) {
	resp, err := b.fastRead(ctx, http.MethodHead, t, key, rng, opts)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	info, _, _, err := objectInfoFromHeaders(resp, key)
	if err != nil {
		return nil, err
	}
	return &info, nil
}

// fastRead sends a GET or HEAD with opts' conditions, part number and
// version id and returns a successful answer (its body open) or the
// translated error.
func (b *Backend) fastRead(ctx context.Context, method string, t *target, key, rng string, opts storage.GetOptions) (*http.Response, error) {
	var query string
	if opts.PartNumber > 0 || opts.VersionID != "" {
		query = versionQuery(opts.PartNumber, opts.VersionID)
	}
	req, err := b.fast.newRequest(ctx, method, t, key, query, "")
	if err != nil {
		return nil, err
	}
	h := req.Header
	c := opts.Conditions
	setHeader(h, "If-Match", c.IfMatch)
	setHeader(h, "If-None-Match", c.IfNoneMatch)
	setTimeHeader(h, "If-Modified-Since", c.IfModifiedSince)
	setTimeHeader(h, "If-Unmodified-Since", c.IfUnmodifiedSince)
	setHeader(h, "Range", rng)
	resp, err := b.fast.send(req, t, emptyPayloadHash)
	if err != nil {
		return nil, translate(err, kindObject)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return nil, responseError(resp, objectKind(opts.VersionID))
	}
	return resp, nil
}

// fastPutObject is PutObject on the fast path (size >= 0).
func (b *Backend) fastPutObject(ctx context.Context, t *target, key string, body io.Reader, size int64, opts storage.PutOptions) (*storage.PutResult, error) {
	req, err := b.fast.newRequest(ctx, http.MethodPut, t, key, "", opts.ContentType)
	if err != nil {
		return nil, err
	}
	h := req.Header
	setHeader(h, "Content-Md5", opts.ContentMD5)
	setHeader(h, "If-Match", opts.IfMatch)
	setHeader(h, "If-None-Match", opts.IfNoneMatch)
	sh := parseStoredHeaders(opts.Headers)
	setHeader(h, hdrCacheControl, sh.cacheControl)
	setHeader(h, hdrContentDisposition, sh.contentDisposition)
	setHeader(h, hdrContentEncoding, sh.contentEncoding)
	setHeader(h, hdrContentLanguage, sh.contentLanguage)
	setHeader(h, hdrExpires, sh.expires)
	for k, v := range opts.UserMetadata {
		// The header name the SDK makes of a metadata key.
		h["X-Amz-Meta-"+strings.TrimSpace(http.CanonicalHeaderKey(k))] = []string{v}
	}
	if opts.Lock != (storage.LockState{}) {
		setLockHeaders(h, opts.Lock)
	}
	etag, versionID, err := b.fastUpload(req, t, body, size, "put object", kindObject)
	if err != nil {
		return nil, err
	}
	return &storage.PutResult{ETag: etag, VersionID: versionID}, nil
}

// fastUploadPart is UploadPart on the fast path (size >= 0, partNumber
// validated).
func (b *Backend) fastUploadPart(ctx context.Context, t *target, key, uploadID string, partNumber int, body io.Reader, size int64, opts storage.PartOptions) (*storage.PartResult, error) {
	query := "partNumber=" + strconv.Itoa(partNumber) + "&uploadId=" + url.QueryEscape(uploadID)
	req, err := b.fast.newRequest(ctx, http.MethodPut, t, key, query, "")
	if err != nil {
		return nil, err
	}
	setHeader(req.Header, "Content-Md5", opts.ContentMD5)
	etag, _, err := b.fastUpload(req, t, body, size, "upload part", kindUpload)
	if err != nil {
		return nil, err
	}
	return &storage.PartResult{ETag: etag}, nil
}

// fastUpload streams exactly size bytes of body as req's payload (signed
// UNSIGNED-PAYLOAD, never retried: the body cannot be rewound) and returns
// the quoted ETag and the x-amz-version-id of the answer. A body that fails
// or ends early aborts the request, so nothing is stored, and its error is
// returned (see bodyError).
func (b *Backend) fastUpload(req *http.Request, t *target, body io.Reader, size int64, op string, kind resourceKind) (etag, versionID string, err error) {
	if _, ok := req.Header["Content-Type"]; !ok {
		// The SDK's serialiser sends this default (MinIO and S3 store it).
		req.Header["Content-Type"] = []string{defaultContentType}
	}
	req.ContentLength = size
	var ub *uploadBody
	switch {
	case size > 0 && size <= maxBufferedUpload:
		// A small body is read (and verified) whole first: a reader
		// net/http knows is in memory goes out with the headers in
		// one write, where a streamed one costs a write of its own
		// (net/http flushes the headers first) and a copy buffer.
		// No GetBody: net/http then neither retries nor redirects it.
		data, err := readUpload(body, size)
		if err != nil {
			return "", "", bodyError(op, err)
		}
		req.Body = io.NopCloser(bytes.NewReader(data))
	case size > 0:
		ub = newUploadBody(body, size)
		req.Body = ub
	}
	if size >= continueThreshold {
		req.Header["Expect"] = []string{"100-continue"}
	}
	resp, err := b.fast.send(req, t, unsignedPayload)
	if ub != nil {
		if bodyErr := ub.finish(); bodyErr != nil {
			if resp != nil {
				resp.Body.Close()
			}
			return "", "", bodyError(op, bodyErr)
		}
	}
	if err != nil {
		return "", "", translate(err, kind)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return "", "", responseError(resp, kind)
	}
	// Drain the (empty) answer so that the connection is reused
	// (nothing to drain when net/http knows it is empty).
	if resp.Body != http.NoBody {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	}
	resp.Body.Close()
	return quoteETag(headerValue(resp.Header, "Etag")), headerValue(resp.Header, hdrVersionID), nil
}

// readUpload reads exactly size bytes of body, failing as an uploadBody
// read by the transport does: a body that ends early is
// io.ErrUnexpectedEOF, a read error (even with the last bytes) is returned
// as it is.
func readUpload(body io.Reader, size int64) ([]byte, error) {
	data := make([]byte, size)
	for n, empty := 0, 0; n < len(data); {
		m, err := body.Read(data[n:])
		n += m
		switch {
		case err == io.EOF && n < len(data):
			return nil, io.ErrUnexpectedEOF
		case err != nil && err != io.EOF:
			return nil, err
		case m > 0:
			empty = 0
		default:
			if empty++; empty == 100 {
				return nil, io.ErrNoProgress
			}
		}
	}
	return data, nil
}

// objectInfoFromHeaders reads a GET or HEAD answer's headers as the SDK
// deserialises them (values trimmed; x-amz-meta-* keys lower-cased without
// the prefix; no Content-Length means 0; version id and object lock
// headers), and returns the object's info, the answer's Content-Length and
// its Content-Range. Size is the whole object's, from Content-Range when a
// range was served. An unparsable Content-Length, Last-Modified or
// retain-until date fails as the SDK's deserialiser does.
func objectInfoFromHeaders(resp *http.Response, key string) (info storage.ObjectInfo, contentLength int64, contentRange string, err error) {
	h := resp.Header
	if v := headerValue(h, "Content-Length"); v != "" {
		contentLength, err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			return info, 0, "", unreadable(resp, kindObject, err)
		}
	}
	var lastModified time.Time
	if v, ok := h["Last-Modified"]; ok && len(v) > 0 {
		lastModified, err = smithytime.ParseHTTPDate(strings.TrimSpace(v[0]))
		if err != nil {
			return info, 0, "", unreadable(resp, kindObject, err)
		}
	}
	lock, err := lockFromHeaders(h)
	if err != nil {
		return info, 0, "", unreadable(resp, kindObject, err)
	}
	contentRange = headerValue(h, "Content-Range")
	size := contentLength
	if total, ok := totalFromContentRange(contentRange); ok {
		size = total
	}
	stored := storedHeaders{
		cacheControl:       headerValue(h, hdrCacheControl),
		contentDisposition: headerValue(h, hdrContentDisposition),
		contentEncoding:    headerValue(h, hdrContentEncoding),
		contentLanguage:    headerValue(h, hdrContentLanguage),
		expires:            headerValue(h, hdrExpires),
	}
	info = storage.ObjectInfo{
		Key:          key,
		Size:         size,
		ETag:         quoteETag(headerValue(h, "Etag")),
		LastModified: lastModified,
		ContentType:  headerValue(h, "Content-Type"),
		UserMetadata: userMetadata(h),
		Headers:      stored.toMap(),
		StorageClass: headerValue(h, "X-Amz-Storage-Class"),
		VersionID:    headerValue(h, hdrVersionID),
		Lock:         lock,
	}
	return info, contentLength, contentRange, nil
}

// unreadable is the error of a successful answer the SDK could not
// deserialise, translated as the SDK path translates it.
func unreadable(resp *http.Response, kind resourceKind, cause error) error {
	return translateAnswer(resp.StatusCode, "", "", kind, cause)
}

// userMetadata returns the x-amz-meta-* headers of h, keys lower-cased
// without the prefix, or nil when there are none.
func userMetadata(h http.Header) map[string]string {
	const prefix = "x-amz-meta-"
	var m map[string]string
	for k, v := range h {
		if len(k) < len(prefix) || k[0]|0x20 != 'x' || !strings.EqualFold(k[:len(prefix)], prefix) || len(v) == 0 {
			continue
		}
		if m == nil {
			m = make(map[string]string)
		}
		m[strings.ToLower(k[len(prefix):])] = strings.TrimSpace(v[0])
	}
	return m
}

// headerValue returns the first value of the canonical header key, trimmed.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// setHeader sets the canonical header key to v unless v is empty.
func setHeader(h http.Header, key, v string) {
	if v != "" {
		h[key] = []string{v}
	}
}

// setTimeHeader sets the canonical header key to t as an HTTP date unless t
// is zero.
func setTimeHeader(h http.Header, key string, t time.Time) {
	if !t.IsZero() {
		h[key] = []string{smithytime.FormatHTTPDate(t)}
	}
}
