package s3api

import (
	"cmp"
	"net/http"
	"strconv"
	"strings"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// storedHeaders are the standard headers kept with an object and returned on GET/HEAD.
func storedHeaders() [5]string {
	return [5]string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}
}

// responseOverrides maps the response-* query parameters of GetObject to
// the header each one replaces.
func responseOverrides() [6][2]string {
	return [6][2]string{
		{"response-cache-control", "Cache-Control"},
		{"response-content-disposition", "Content-Disposition"},
		{"response-content-encoding", "Content-Encoding"},
		{"response-content-language", "Content-Language"},
		{"response-content-type", "Content-Type"},
		{"response-expires", "Expires"},
	}
}

// maxUserMetadata is S3's limit on the x-amz-meta-* names and values, in bytes.
const maxUserMetadata = 2 << 10

const metaPrefix = "X-Amz-Meta-"

// metaHeaderPrefix is the prefix of user metadata response headers, as S3
// writes them.
const metaHeaderPrefix = "x-amz-meta-"

// defaultContentType is what S3 stores for an object uploaded without a
// Content-Type (an S3 backend's SDK would otherwise send its own default,
// application/octet-stream).
const defaultContentType = "binary/octet-stream"

// putOptions reads what is stored with an object from the request headers.
func putOptions(h http.Header) (storage.PutOptions, error) {
	o := storage.PutOptions{
		ContentType: cmp.Or(h.Get("Content-Type"), defaultContentType),
		ContentMD5:  h.Get("Content-Md5"),
		IfMatch:     h.Get("If-Match"),
		IfNoneMatch: h.Get("If-None-Match"),
	}
	if h.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != "" {
		return o, s3err.ErrNotImplemented.WithMessage("Server-side encryption with customer-provided keys (SSE-C) is not implemented by dgp.")
	}
	metaSize := 0
	for k, v := range h {
		if len(k) <= len(metaPrefix) || !strings.EqualFold(k[:len(metaPrefix)], metaPrefix) {
			continue
		}
		if o.UserMetadata == nil {
			o.UserMetadata = make(map[string]string)
		}
		name := strings.ToLower(k[len(metaPrefix):])
		val := strings.Join(v, ",")
		o.UserMetadata[name] = val
		metaSize += len(name) + len(val)
	}
	if metaSize > maxUserMetadata {
		return o, s3err.ErrInvalidArgument.WithMessage("Your metadata headers exceed the maximum allowed metadata size of %d bytes.", maxUserMetadata)
	}
	for _, name := range storedHeaders() {
		v := h.Get(name)
		if name == "Content-Encoding" {
			v = stripAWSChunked(v)
		}
		if v == "" {
			continue
		}
		if o.Headers == nil {
			o.Headers = make(map[string]string, 5)
		}
		o.Headers[name] = v
	}
	return o, nil
}

// stripAWSChunked removes the aws-chunked transfer coding from a
// Content-Encoding value: it describes the upload, not the object.
func stripAWSChunked(v string) string {
	if !strings.Contains(v, "aws-chunked") {
		return v
	}
	var keep []string
	for part := range strings.SplitSeq(v, ",") {
		if p := strings.TrimSpace(part); p != "" && !strings.EqualFold(p, "aws-chunked") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ",")
}

// quoteETag returns etag in the quoted form S3 sends.
func quoteETag(etag string) string {
	if etag == "" || strings.HasPrefix(etag, `"`) {
		return etag
	}
	return `"` + etag + `"`
}

// headerVals hands out the one-value slices of response headers from one
// backing array, instead of one allocation per header as Header.Set.
type headerVals struct {
	arr [8]string
	n   int
}

// set is h.Set(key, v) for a key in canonical form.
func (hv *headerVals) set(h http.Header, key, v string) {
	if hv.n == len(hv.arr) {
		h[key] = []string{v}
		return
	}
	i := hv.n
	hv.arr[i] = v
	hv.n++
	h[key] = hv.arr[i : i+1 : i+1]
}

// setObjectHeaders writes an object's metadata as response headers.
func setObjectHeaders(h http.Header, info *storage.ObjectInfo) {
	setObjectHeadersVals(h, info, &headerVals{})
}

// setObjectHeadersVals is setObjectHeaders taking the values of the usual
// headers from vals.
func setObjectHeadersVals(h http.Header, info *storage.ObjectInfo, vals *headerVals) {
	ct := info.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	vals.set(h, "Content-Type", ct)
	if info.ETag != "" {
		vals.set(h, "Etag", quoteETag(info.ETag))
	}
	if !info.LastModified.IsZero() {
		vals.set(h, "Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	}
	vals.set(h, "Accept-Ranges", "bytes")
	for k, v := range info.UserMetadata {
		// S3 sends user metadata names lower-case (clients such as boto3
		// keep the case they receive), so bypass Set's canonical form.
		h[metaHeaderPrefix+k] = []string{v}
	}
	for _, name := range storedHeaders() {
		if v, ok := info.Headers[name]; ok && v != "" {
			h.Set(name, v)
		}
	}
	if info.StorageClass != "" && info.StorageClass != "STANDARD" {
		h.Set("x-amz-storage-class", info.StorageClass)
	}
	setVersionID(h, info.VersionID)
	setLockHeaders(h, info.Lock)
}

// parseConditions reads conditional headers (names prefixed by prefix:
// "" for GET/HEAD, "X-Amz-Copy-Source-" for copies). Unparseable dates are
// ignored, as S3 does.
func parseConditions(h http.Header, prefix string) storage.Conditions {
	c := storage.Conditions{
		IfMatch:     h.Get(prefix + "If-Match"),
		IfNoneMatch: h.Get(prefix + "If-None-Match"),
	}
	if v := h.Get(prefix + "If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			c.IfModifiedSince = t
		}
	}
	if v := h.Get(prefix + "If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			c.IfUnmodifiedSince = t
		}
	}
	return c
}

// parsePartNumber reads a part number (1..MaxPartNumber) from the query.
func parsePartNumber(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxPartNumber {
		return 0, s3err.ErrInvalidArgument.WithMessage("Part number must be an integer between 1 and %d, inclusive", MaxPartNumber)
	}
	return n, nil
}

func getOptions(rq *request) (storage.GetOptions, error) {
	var o storage.GetOptions
	o.Conditions = parseConditions(rq.r.Header, "")
	vid, err := versionParam(rq)
	if err != nil {
		return o, err
	}
	o.VersionID = vid
	if v, ok := rq.q["partNumber"]; ok {
		n, err := parsePartNumber(v[0])
		if err != nil {
			return o, err
		}
		o.PartNumber = n
	}
	r, err := storage.ParseRange(rq.r.Header.Get("Range"))
	if err != nil {
		return o, err
	}
	if r != nil && o.PartNumber != 0 {
		return o, s3err.ErrInvalidRequest.WithMessage("Cannot specify both Range header and partNumber query parameter")
	}
	o.Range = r
	return o, nil
}

func (s *Server) putObject(rq *request) error {
	size := rq.res.ContentLength
	if size < 0 {
		return s3err.ErrMissingContentLength
	}
	if size > MaxPutSize {
		return s3err.ErrEntityTooLarge
	}
	h := rq.r.Header
	opts, err := putOptions(h)
	if err != nil {
		return err
	}
	if err := checkObjectACL(h); err != nil {
		return err
	}
	if hasLockHeaders(h) {
		if err := requireIntegrity(h); err != nil {
			return s3err.ErrInvalidRequest.WithMessage("Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters")
		}
		if opts.Lock, err = s.lockHeaders(h); err != nil {
			return err
		}
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	body := rq.uploadBody(size, s.bufs)
	res, err := b.PutObject(rq.ctx, name, rq.t.Key, body, size, opts)
	if f := body.failure(); f != nil {
		return f
	}
	if err != nil {
		return err
	}
	// Set's canonical key, without the canonicalisation's allocation.
	rq.w.Header()["Etag"] = []string{quoteETag(res.ETag)}
	setVersionID(rq.w.Header(), res.VersionID)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getObject(rq *request) error {
	opts, err := getOptions(rq)
	if err != nil {
		return err
	}
	for _, o := range responseOverrides() {
		if v := rq.q.Get(o[0]); v != "" && strings.ContainsAny(v, "\r\n") {
			return s3err.ErrInvalidArgument.WithMessage("Invalid %s", o[0])
		}
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	obj, err := b.GetObject(rq.ctx, name, rq.t.Key, opts)
	if err != nil {
		return err
	}
	defer obj.Body.Close()
	h := rq.w.Header()
	vals := &headerVals{}
	setObjectHeadersVals(h, &obj.Info, vals)
	for _, o := range responseOverrides() {
		if v := rq.q.Get(o[0]); v != "" {
			h.Set(o[1], v)
		}
	}
	vals.set(h, "Content-Length", strconv.FormatInt(obj.ContentLength, 10))
	status := http.StatusOK
	if obj.ContentRange != "" {
		vals.set(h, "Content-Range", obj.ContentRange)
		status = http.StatusPartialContent
	}
	rq.w.WriteHeader(status)
	if _, err := s.bufs.copy(rq.w, obj.Body); err != nil {
		// The status is out: the short body (Content-Length) tells the client.
		rq.streamErr = err
	}
	return nil
}

// headObject serves HeadObject. A Range is answered as GetObject would
// (206 with Content-Range and the range's Content-Length, or 416), as S3
// does; backends report the whole object's size.
func (s *Server) headObject(rq *request) error {
	opts, err := getOptions(rq)
	if err != nil {
		return err
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	info, err := b.HeadObject(rq.ctx, name, rq.t.Key, opts)
	if err != nil {
		return err
	}
	h := rq.w.Header()
	status, length := http.StatusOK, info.Size
	if opts.Range != nil {
		start, n, err := storage.ResolveRange(opts.Range, info.Size)
		if err != nil {
			return err
		}
		status, length = http.StatusPartialContent, n
		h.Set("Content-Range", storage.ContentRange(start, n, info.Size))
	}
	setObjectHeaders(h, info)
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	rq.w.WriteHeader(status)
	return nil
}

func (s *Server) deleteObject(rq *request) error {
	vid, err := versionParam(rq)
	if err != nil {
		return err
	}
	bypass, err := bypassGovernance(rq)
	if err != nil {
		return err
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	res, err := b.DeleteObject(rq.ctx, name, rq.t.Key, storage.DeleteOptions{VersionID: vid, BypassGovernance: bypass})
	if err != nil {
		return err
	}
	if res != nil {
		setVersionID(rq.w.Header(), res.VersionID)
		if res.DeleteMarker {
			rq.w.Header().Set("x-amz-delete-marker", "true")
		}
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}
