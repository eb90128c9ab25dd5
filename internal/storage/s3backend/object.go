package s3backend

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// GetObject opens an object (opts.VersionID: that version) or a byte range
// of it. Conditions are evaluated upstream (NotModified /
// PreconditionFailed, with the upstream's ETag and Last-Modified headers);
// the returned Body is the upstream response stream and must be closed by
// the caller. A missing version is NoSuchVersion; a delete marker is
// NoSuchKey or MethodNotAllowed carrying x-amz-delete-marker and
// x-amz-version-id headers.
func (b *Backend) GetObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.Object, error) {
	rng, err := optRangeHeader(opts.Range)
	if err != nil {
		return nil, err
	}
	if t := b.fastTarget(ctx, bucket, key); t != nil {
		return b.fastGetObject(ctx, t, key, rng, opts)
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: optString(rng), VersionId: optString(opts.VersionID)}
	in.IfMatch, in.IfNoneMatch, in.IfModifiedSince, in.IfUnmodifiedSince = conditionFields(opts.Conditions)
	if opts.PartNumber > 0 {
		in.PartNumber = aws.Int32(int32(opts.PartNumber))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		return nil, translate(err, objectKind(opts.VersionID))
	}
	info := objectInfo(key, objectFields{
		cacheControl: out.CacheControl, contentDisposition: out.ContentDisposition,
		contentEncoding: out.ContentEncoding, contentLanguage: out.ContentLanguage, expires: out.ExpiresString,
		contentLength: out.ContentLength, contentRange: out.ContentRange, etag: out.ETag,
		lastModified: out.LastModified, contentType: out.ContentType, metadata: out.Metadata,
		storageClass: string(out.StorageClass), versionID: out.VersionId,
		lock: lockState(string(out.ObjectLockMode), out.ObjectLockRetainUntilDate, string(out.ObjectLockLegalHoldStatus)),
	})
	return &storage.Object{
		Info:          info,
		Body:          out.Body,
		ContentLength: aws.ToInt64(out.ContentLength),
		ContentRange:  aws.ToString(out.ContentRange),
	}, nil
}

// HeadObject returns an object's (or a version's) metadata, evaluating
// conditions upstream, with the errors of GetObject. Size is the whole
// object's size even when a Range is given.
func (b *Backend) HeadObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.ObjectInfo, error) {
	rng, err := optRangeHeader(opts.Range)
	if err != nil {
		return nil, err
	}
	if t := b.fastTarget(ctx, bucket, key); t != nil {
		return b.fastHeadObject(ctx, t, key, rng, opts)
	}
	in := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: optString(rng), VersionId: optString(opts.VersionID)}
	in.IfMatch, in.IfNoneMatch, in.IfModifiedSince, in.IfUnmodifiedSince = conditionFields(opts.Conditions)
	if opts.PartNumber > 0 {
		in.PartNumber = aws.Int32(int32(opts.PartNumber))
	}
	out, err := b.client.HeadObject(ctx, in)
	if err != nil {
		return nil, translate(err, objectKind(opts.VersionID))
	}
	info := objectInfo(key, objectFields{
		cacheControl: out.CacheControl, contentDisposition: out.ContentDisposition,
		contentEncoding: out.ContentEncoding, contentLanguage: out.ContentLanguage, expires: out.ExpiresString,
		contentLength: out.ContentLength, contentRange: out.ContentRange, etag: out.ETag,
		lastModified: out.LastModified, contentType: out.ContentType, metadata: out.Metadata,
		storageClass: string(out.StorageClass), versionID: out.VersionId,
		lock: lockState(string(out.ObjectLockMode), out.ObjectLockRetainUntilDate, string(out.ObjectLockLegalHoldStatus)),
	})
	return &info, nil
}

// objectFields are the fields GetObject's and HeadObject's SDK outputs share.
type objectFields struct {
	cacheControl, contentDisposition, contentEncoding, contentLanguage, expires *string
	contentLength                                                               *int64
	contentRange, etag, contentType                                             *string
	lastModified                                                                *time.Time
	metadata                                                                    map[string]string
	storageClass                                                                string
	versionID                                                                   *string
	lock                                                                        storage.LockState
}

// objectInfo builds the metadata of an SDK answer. Size is the whole
// object's size even when a range was served.
func objectInfo(key string, f objectFields) storage.ObjectInfo {
	h := storedHeaders{
		cacheControl:       aws.ToString(f.cacheControl),
		contentDisposition: aws.ToString(f.contentDisposition),
		contentEncoding:    aws.ToString(f.contentEncoding),
		contentLanguage:    aws.ToString(f.contentLanguage),
		expires:            aws.ToString(f.expires),
	}
	size := aws.ToInt64(f.contentLength)
	if total, ok := totalFromContentRange(aws.ToString(f.contentRange)); ok {
		size = total
	}
	return storage.ObjectInfo{
		Key:          key,
		Size:         size,
		ETag:         quoteETag(aws.ToString(f.etag)),
		LastModified: aws.ToTime(f.lastModified),
		ContentType:  aws.ToString(f.contentType),
		UserMetadata: f.metadata,
		Headers:      h.toMap(),
		StorageClass: f.storageClass,
		VersionID:    aws.ToString(f.versionID),
		Lock:         f.lock,
	}
}

// PutObject streams exactly size bytes of body to the object. size must be
// known (S3 needs Content-Length): -1 is MissingContentLength. A body that
// fails or ends early aborts the upload, so nothing is stored; its error is
// returned (an *s3err.Error from the reader as is, a short body as
// IncompleteBody). opts.IfMatch / IfNoneMatch make the write conditional
// (412 = PreconditionFailed); opts.Lock is sent as the object lock headers.
// VersionID is the upstream's x-amz-version-id ("" when it sends none, as
// for a bucket that is unversioned or suspended).
func (b *Backend) PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64, opts storage.PutOptions) (*storage.PutResult, error) {
	if size < 0 {
		return nil, s3err.ErrMissingContentLength
	}
	if t := b.fastTarget(ctx, bucket, key); t != nil {
		return b.fastPutObject(ctx, t, key, body, size, opts)
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		ContentLength: aws.Int64(size),
		Metadata:      opts.UserMetadata,
		ContentType:   optString(opts.ContentType),
		ContentMD5:    optString(opts.ContentMD5),
		IfMatch:       optString(opts.IfMatch),
		IfNoneMatch:   optString(opts.IfNoneMatch),
	}
	h := parseStoredHeaders(opts.Headers)
	in.CacheControl, in.ContentDisposition, in.ContentEncoding, in.ContentLanguage = h.fields()
	lock := lockFields(opts.Lock)
	in.ObjectLockMode, in.ObjectLockRetainUntilDate, in.ObjectLockLegalHoldStatus = lock.mode, lock.until, lock.hold
	ub := newUploadBody(body, size)
	if size > 0 {
		in.Body = ub
	}
	out, err := b.client.PutObject(ctx, in, streamingOptions(h)...)
	if bodyErr := ub.finish(); bodyErr != nil {
		return nil, bodyError("put object", bodyErr)
	}
	if err != nil {
		return nil, translate(err, kindObject)
	}
	return &storage.PutResult{ETag: quoteETag(aws.ToString(out.ETag)), VersionID: aws.ToString(out.VersionId)}, nil
}

// DeleteObject removes key (a missing key is not an error), adds a delete
// marker in a versioned bucket, or with opts.VersionID removes that version
// (opts.BypassGovernance sends x-amz-bypass-governance-retention). The
// result is what the upstream reported in x-amz-version-id and
// x-amz-delete-marker.
func (b *Backend) DeleteObject(ctx context.Context, bucket, key string, opts storage.DeleteOptions) (*storage.DeleteResult, error) {
	in := &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: optString(opts.VersionID)}
	if opts.BypassGovernance {
		in.BypassGovernanceRetention = aws.Bool(true)
	}
	out, err := b.client.DeleteObject(ctx, in)
	if err != nil {
		return nil, translate(err, kindObject)
	}
	return &storage.DeleteResult{VersionID: aws.ToString(out.VersionId), DeleteMarker: aws.ToBool(out.DeleteMarker)}, nil
}

// CopyObject copies src (src.VersionID: that version) to dst server-side.
// With ReplaceMetadata the destination gets opts.Put's metadata, otherwise
// the source's; opts.Put.Lock is the new version's lock state either way.
// opts.Conditions are the x-amz-copy-source-if-* conditions;
// opts.Put.IfMatch / IfNoneMatch condition the destination write.
func (b *Backend) CopyObject(ctx context.Context, src, dst storage.ObjectRef, opts storage.CopyOptions) (*storage.CopyResult, error) {
	in := &s3.CopyObjectInput{
		Bucket:            aws.String(dst.Bucket),
		Key:               aws.String(dst.Key),
		CopySource:        aws.String(copySource(src)),
		MetadataDirective: types.MetadataDirectiveCopy,
		IfMatch:           optString(opts.Put.IfMatch),
		IfNoneMatch:       optString(opts.Put.IfNoneMatch),
	}
	lock := lockFields(opts.Put.Lock)
	in.ObjectLockMode, in.ObjectLockRetainUntilDate, in.ObjectLockLegalHoldStatus = lock.mode, lock.until, lock.hold
	in.CopySourceIfMatch, in.CopySourceIfNoneMatch, in.CopySourceIfModifiedSince, in.CopySourceIfUnmodifiedSince = conditionFields(opts.Conditions)
	var apiOpts []func(*s3.Options)
	if opts.ReplaceMetadata {
		in.MetadataDirective = types.MetadataDirectiveReplace
		in.Metadata = opts.Put.UserMetadata
		in.ContentType = optString(opts.Put.ContentType)
		h := parseStoredHeaders(opts.Put.Headers)
		in.CacheControl, in.ContentDisposition, in.ContentEncoding, in.ContentLanguage = h.fields()
		if h.expires != "" {
			apiOpts = append(apiOpts, s3.WithAPIOptions(smithyhttp.SetHeaderValue("Expires", h.expires)))
		}
	}
	out, err := b.client.CopyObject(ctx, in, apiOpts...)
	if err != nil {
		return nil, translate(err, kindObject)
	}
	res := &storage.CopyResult{VersionID: aws.ToString(out.VersionId), SourceVersionID: aws.ToString(out.CopySourceVersionId)}
	if out.CopyObjectResult != nil {
		res.ETag = quoteETag(aws.ToString(out.CopyObjectResult.ETag))
		res.LastModified = aws.ToTime(out.CopyObjectResult.LastModified)
	}
	return res, nil
}

// streamingOptions are the per-call options of a streamed upload: sign
// UNSIGNED-PAYLOAD instead of hashing the body, never retry (the body
// cannot be rewound), and set a raw Expires header when one is stored.
func streamingOptions(h storedHeaders) []func(*s3.Options) {
	fns := []func(*middleware.Stack) error{v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware}
	if h.expires != "" {
		fns = append(fns, smithyhttp.SetHeaderValue("Expires", h.expires))
	}
	return []func(*s3.Options){s3.WithAPIOptions(fns...), noRetry}
}

// conditionFields returns the SDK fields of c: IfMatch, IfNoneMatch,
// IfModifiedSince, IfUnmodifiedSince (nil when unset).
func conditionFields(c storage.Conditions) (ifMatch, ifNoneMatch *string, ifModSince, ifUnmodSince *time.Time) {
	return optString(c.IfMatch), optString(c.IfNoneMatch), optTime(c.IfModifiedSince), optTime(c.IfUnmodifiedSince)
}

// optRangeHeader is rangeHeader of r, or "" when r is nil.
func optRangeHeader(r *storage.Range) (string, error) {
	if r == nil {
		return "", nil
	}
	return rangeHeader(*r)
}

// rangeHeader renders r as an HTTP Range header: Start -1 is a suffix of End
// bytes ("bytes=-End"), End -1 is open-ended ("bytes=Start-").
func rangeHeader(r storage.Range) (string, error) {
	switch {
	case r.Start < 0:
		if r.End < 0 {
			return "", s3err.ErrInvalidRange.WithMessage("%s", "invalid suffix range")
		}
		return "bytes=-" + strconv.FormatInt(r.End, 10), nil
	case r.End < 0:
		return "bytes=" + strconv.FormatInt(r.Start, 10) + "-", nil
	case r.End < r.Start:
		return "", s3err.ErrInvalidRange.WithMessage("%s", "range end before start")
	default:
		return "bytes=" + strconv.FormatInt(r.Start, 10) + "-" + strconv.FormatInt(r.End, 10), nil
	}
}

// totalFromContentRange returns the total size from "bytes a-b/total".
func totalFromContentRange(cr string) (int64, bool) {
	i := strings.LastIndexByte(cr, '/')
	if i < 0 || !strings.HasPrefix(cr, "bytes ") {
		return 0, false
	}
	n, err := strconv.ParseInt(cr[i+1:], 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// copySource renders the x-amz-copy-source value "bucket/key", percent-
// encoding every byte of the key except unreserved characters and '/',
// followed by "?versionId=<id>" when ref names a version.
func copySource(ref storage.ObjectRef) string {
	s := escapePath(ref.Bucket) + "/" + escapePath(ref.Key)
	if ref.VersionID != "" {
		s += "?versionId=" + url.QueryEscape(ref.VersionID)
	}
	return s
}

func escapePath(s string) string {
	const hex = "0123456789ABCDEF"
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		clean = pathSafe(s[i])
	}
	if clean {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if pathSafe(c) {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&15])
	}
	return sb.String()
}

// pathSafe reports whether escapePath keeps c as it is.
func pathSafe(c byte) bool {
	return ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '/'
}

// quoteETag returns etag in double quotes, as S3 sends it (some services
// omit them in XML bodies).
func quoteETag(etag string) string {
	if etag == "" || strings.HasPrefix(etag, "\"") {
		return etag
	}
	return "\"" + etag + "\""
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return aws.Time(t)
}

// storedHeaders are the standard headers S3 stores with an object and
// returns on GET/HEAD.
type storedHeaders struct {
	cacheControl, contentDisposition, contentEncoding, contentLanguage, expires string
}

// Canonical names of the stored headers (keys of ObjectInfo.Headers).
const (
	hdrCacheControl       = "Cache-Control"
	hdrContentDisposition = "Content-Disposition"
	hdrContentEncoding    = "Content-Encoding"
	hdrContentLanguage    = "Content-Language"
	hdrExpires            = "Expires"
)

// parseStoredHeaders picks the stored headers out of m, whatever the case of
// its keys; other keys are ignored.
func parseStoredHeaders(m map[string]string) storedHeaders {
	var h storedHeaders
	for k, v := range m {
		switch http.CanonicalHeaderKey(k) {
		case hdrCacheControl:
			h.cacheControl = v
		case hdrContentDisposition:
			h.contentDisposition = v
		case hdrContentEncoding:
			h.contentEncoding = v
		case hdrContentLanguage:
			h.contentLanguage = v
		case hdrExpires:
			h.expires = v
		}
	}
	return h
}

// fields returns the SDK input fields: CacheControl, ContentDisposition,
// ContentEncoding, ContentLanguage (Expires is sent as a raw header).
func (h storedHeaders) fields() (cc, cd, ce, cl *string) {
	return optString(h.cacheControl), optString(h.contentDisposition), optString(h.contentEncoding), optString(h.contentLanguage)
}

// toMap returns the non-empty headers under their canonical names, or nil.
func (h storedHeaders) toMap() map[string]string {
	var m map[string]string
	set := func(k, v string) {
		if v == "" {
			return
		}
		if m == nil {
			m = make(map[string]string, 5)
		}
		m[k] = v
	}
	set(hdrCacheControl, h.cacheControl)
	set(hdrContentDisposition, h.contentDisposition)
	set(hdrContentEncoding, h.contentEncoding)
	set(hdrContentLanguage, h.contentLanguage)
	set(hdrExpires, h.expires)
	return m
}
