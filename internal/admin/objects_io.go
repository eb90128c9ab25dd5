package admin

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// get downloads an object as an attachment: the whole of it, or the one
// byte range of a Range header (206), as S3 serves it. If-Range, which a
// browser sends when it resumes a download, keeps the range only while the
// object is the one it names (its ETag, or its Last-Modified date);
// otherwise the whole object is sent.
func (b *browser) get(c *objectCall) error {
	bucket, key, err := target(c.r)
	if err != nil {
		return err
	}
	if err := c.allow(iam.ActionRead, bucket, key, bucket+"/"+key); err != nil {
		return err
	}
	rng, err := storage.ParseRange(c.r.Header.Get("Range"))
	if err != nil {
		return objectError(err, bucket, key)
	}
	obj, err := b.o.GetObject(c.r.Context(), bucket, key, storage.GetOptions{Range: rng})
	if ir := c.r.Header.Get("If-Range"); rng != nil && ir != "" {
		obj, err = b.ifRange(c, bucket, key, ir, obj, err)
	}
	if err != nil {
		return objectError(err, bucket, key)
	}
	defer obj.Body.Close()
	h := c.w.Header()
	h.Set("Content-Type", safeContentType(obj.Info.ContentType))
	h.Set("Content-Length", strconv.FormatInt(obj.ContentLength, 10))
	h.Set("Accept-Ranges", "bytes")
	status := http.StatusOK
	if obj.ContentRange != "" {
		h.Set("Content-Range", obj.ContentRange)
		status = http.StatusPartialContent
	}
	h.Set("Content-Disposition", attachment(key))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "no-store")
	if obj.Info.ETag != "" {
		h.Set("ETag", obj.Info.ETag)
	}
	if !obj.Info.LastModified.IsZero() {
		h.Set("Last-Modified", obj.Info.LastModified.UTC().Format(http.TimeFormat))
	}
	c.w.WriteHeader(status)
	if c.r.Method == http.MethodHead {
		return nil
	}
	if _, err := io.Copy(c.w, obj.Body); err != nil {
		// The status is out: the short body (Content-Length) tells the client.
		b.api.log.Warn().Err(err).Str("identity", c.p.who()).Str("bucket", bucket).Str("key", key).
			Msg("object download cut short")
	}
	return nil
}

// ifRange settles the answer to a ranged GET (obj, err) that carries If-Range
// ir: it stands when the object is the one ir names; otherwise the whole
// object is the answer, also when the range does not fit the object now
// (a resumed download of an object replaced by a shorter one).
func (b *browser) ifRange(c *objectCall, bucket, key, ir string, obj *storage.Object, err error) (*storage.Object, error) {
	switch {
	case err == nil && ifRangeHolds(ir, obj.Info):
		return obj, nil
	case err == nil:
		obj.Body.Close()
		return b.o.GetObject(c.r.Context(), bucket, key, storage.GetOptions{})
	}
	if !errors.Is(err, s3err.ErrInvalidRange) {
		return nil, err
	}
	whole, werr := b.o.GetObject(c.r.Context(), bucket, key, storage.GetOptions{})
	if werr != nil {
		return nil, werr
	}
	if ifRangeHolds(ir, whole.Info) {
		whole.Body.Close()
		return nil, err // the range does not fit the very object named: 416
	}
	return whole, nil
}

// ifRangeHolds reports whether an If-Range value names info: the same
// strong ETag, or the same Last-Modified second. A weak or unreadable value
// never holds (RFC 9110, 13.1.5), so the whole object is sent.
func ifRangeHolds(v string, info storage.ObjectInfo) bool {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		return info.ETag != "" && strings.Trim(v, `"`) == strings.Trim(info.ETag, `"`)
	}
	t, err := http.ParseTime(v)
	return err == nil && !info.LastModified.IsZero() && info.LastModified.UTC().Truncate(time.Second).Equal(t)
}

// putAnswer is the answer to an upload.
type putAnswer struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	ETag      string `json:"etag"`
	VersionID string `json:"version_id,omitempty"`
}

// put uploads the raw request body as an object, streamed to storage.
func (b *browser) put(c *objectCall) error {
	bucket, key, err := target(c.r)
	if err != nil {
		return err
	}
	if err := c.allow(iam.ActionWrite, bucket, key, bucket+"/"+key); err != nil {
		return err
	}
	size := c.r.ContentLength
	switch {
	case size < 0:
		return &apiError{Status: http.StatusLengthRequired, Code: "length_required",
			Message: "an upload needs a Content-Length (storage backends must know the size before the data)"}
	case size > MaxUploadBytes:
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: fmt.Sprintf("the upload is larger than %d bytes (5 GiB, the largest single S3 PUT): upload it with an S3 client, which uses multipart", MaxUploadBytes)}
	}
	opts := storage.PutOptions{IfMatch: c.r.Header.Get("If-Match"), IfNoneMatch: c.r.Header.Get("If-None-Match")}
	if ct := c.r.Header.Get("Content-Type"); ct != "" {
		if _, _, err := mime.ParseMediaType(ct); err != nil {
			return invalid("Content-Type", "not a media type: %q", ct)
		}
		opts.ContentType = ct
	}
	body := &uploadBody{src: c.r.Body, remain: size}
	if c.r.Body == nil {
		body.src = http.NoBody
	}
	res, err := b.o.PutObject(c.r.Context(), bucket, key, body, size, opts)
	if body.err != nil {
		return body.failure()
	}
	if err != nil {
		return objectError(err, bucket, key)
	}
	b.api.log.Info().Str("identity", c.p.who()).Str("ip", c.p.ip).Str("bucket", bucket).Str("key", key).
		Int64("size", size).Msg("object uploaded")
	writeJSON(c.w, http.StatusOK, putAnswer{Bucket: bucket, Key: key, Size: size, ETag: res.ETag, VersionID: res.VersionID})
	return nil
}

// del deletes an object.
func (b *browser) del(c *objectCall) error {
	bucket, key, err := target(c.r)
	if err != nil {
		return err
	}
	if err := c.allow(iam.ActionDelete, bucket, key, bucket+"/"+key); err != nil {
		return err
	}
	if err := b.o.DeleteObject(c.r.Context(), bucket, key); err != nil {
		return objectError(err, bucket, key)
	}
	b.api.log.Info().Str("identity", c.p.who()).Str("ip", c.p.ip).Str("bucket", bucket).Str("key", key).
		Msg("object deleted")
	writeJSON(c.w, http.StatusOK, map[string]any{"bucket": bucket, "key": key, "deleted": true})
	return nil
}

// uploadBody passes exactly remain bytes of src and remembers the first
// failure of src (a stalled or cut body), which explains a failed put
// better than the backend's wrapping of it.
type uploadBody struct {
	src    io.Reader
	remain int64
	err    error
}

func (u *uploadBody) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	if u.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > u.remain {
		p = p[:u.remain]
	}
	n, err := u.src.Read(p)
	u.remain -= int64(n)
	switch {
	case err == io.EOF && u.remain > 0:
		u.err = io.ErrUnexpectedEOF
		return n, u.err
	case err == io.EOF:
		return n, io.EOF
	case err != nil:
		u.err = err
		return n, err
	}
	return n, nil
}

// failure is the answer to a body that failed.
func (u *uploadBody) failure() error {
	var ae *apiError
	if errors.As(u.err, &ae) { // the body stalled (bodytimeout.go)
		return ae
	}
	return &apiError{Status: http.StatusBadRequest, Code: "incomplete_body",
		Message: "the upload body ended before its Content-Length: nothing was stored"}
}

// objectError translates a storage error once, naming bucket and key.
func objectError(err error, bucket, key string) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var se *s3err.Error
	if !errors.As(err, &se) {
		return &apiError{Status: http.StatusBadGateway, Code: "storage_unavailable",
			Message: "the storage backend did not answer: " + err.Error()}
	}
	switch se.Code {
	case s3err.ErrNoSuchBucket.Code:
		return notFoundCode("no_such_bucket", "bucket %q does not exist", bucket)
	case s3err.ErrNoSuchKey.Code:
		return notFoundCode("no_such_key", "no object %q in bucket %q", key, bucket)
	case s3err.ErrPreconditionFailed.Code:
		return &apiError{Status: http.StatusPreconditionFailed, Code: "precondition_failed",
			Message: fmt.Sprintf("%s/%s: the object changed or exists (If-Match / If-None-Match failed)", bucket, key)}
	case s3err.ErrAccessDenied.Code:
		return &apiError{Status: http.StatusBadGateway, Code: "storage_access_denied",
			Message: "the storage backend refused dgp's own credentials: " + se.Message}
	}
	msg := se.Message
	if msg == "" {
		msg = se.Code
	}
	if se.Status >= 500 {
		msg = "the storage backend failed: " + msg
	}
	return &apiError{Status: se.Status, Code: snakeCase(se.Code), Message: msg}
}

func notFoundCode(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: code, Message: fmt.Sprintf(format, args...)}
}

// snakeCase turns an S3 error code (NoSuchUpload) into the API's style
// (no_such_upload).
func snakeCase(code string) string {
	var sb strings.Builder
	for i, r := range code {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				sb.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// checkBucketName refuses a bucket name no S3 bucket can have (3 to 63
// lower-case letters, digits, '.' and '-'); the backend checks the rest.
func checkBucketName(name string) error {
	ok := len(name) >= 3 && len(name) <= 63
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-'
	}
	if !ok {
		return invalid("bucket", "%q is not a bucket name (3 to 63 lower-case letters, digits, '.' and '-')", name)
	}
	return nil
}

// checkObjectKey applies the S3 API's key rules (s3api's checkKey): not
// empty, at most 1,024 bytes of UTF-8 without NUL, no leading '/', no
// "." or ".." segment.
func checkObjectKey(key string) error {
	if key == "" {
		return invalid("key", "an object key is required")
	}
	if err := checkKeyText("key", key); err != nil {
		return err
	}
	if key[0] == '/' {
		return invalid("key", "must not start with '/'")
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "." || seg == ".." {
			return invalid("key", "must not hold a '.' or '..' path segment")
		}
	}
	return nil
}

// checkKeyText checks a key, prefix or marker: UTF-8 without NUL, at most
// 1,024 bytes.
func checkKeyText(field, s string) error {
	switch {
	case len(s) > maxObjectKey:
		return invalid(field, "longer than %d bytes", maxObjectKey)
	case !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0:
		return invalid(field, "must be UTF-8 without NUL")
	}
	return nil
}

// safeContentType is the stored content type when it parses, else
// application/octet-stream.
func safeContentType(ct string) string {
	if ct == "" {
		return "application/octet-stream"
	}
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		return "application/octet-stream"
	}
	return ct
}

// attachment is the Content-Disposition of a download of key: the last
// segment of the key as the file name, an ASCII fallback with every other
// byte replaced by '_', and the exact UTF-8 name (RFC 6266, RFC 8187).
func attachment(key string) string {
	name := strings.TrimRight(key, "/")
	name = name[strings.LastIndexByte(name, '/')+1:]
	if name == "" {
		name = "download"
	}
	var ascii, ext strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '.', r == '-', r == '_', r == '+', r == ' ', r == '(', r == ')', r == ',':
			ascii.WriteRune(r)
		default:
			ascii.WriteByte('_')
		}
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.IndexByte("!#$&+-.^_`|~", c) >= 0:
			ext.WriteByte(c)
		default:
			fmt.Fprintf(&ext, "%%%02X", c)
		}
	}
	return `attachment; filename="` + ascii.String() + `"; filename*=UTF-8''` + ext.String()
}
