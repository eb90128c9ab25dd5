package s3api

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// copySrc is an authorised copy source.
type copySrc struct {
	backend storage.Backend
	ref     storage.ObjectRef // backend's bucket name
	bucket  string            // client-facing bucket name
}

// copySource parses x-amz-copy-source and authorises reading it.
func (s *Server) copySource(rq *request) (copySrc, error) {
	bucket, key, version, ok := parseCopySource(rq.r.Header.Get("X-Amz-Copy-Source"))
	if !ok {
		return copySrc{}, s3err.ErrInvalidArgument.WithMessage("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	if err := checkBucket(bucket); err != nil {
		return copySrc{}, err
	}
	if err := checkKey(key); err != nil {
		return copySrc{}, err
	}
	if !rq.allowed(iam.ActionRead, bucket, key) {
		return copySrc{}, s3err.ErrAccessDenied.WithResource(bucket + "/" + key)
	}
	b, name, err := s.backend(bucket)
	if err != nil {
		return copySrc{}, err
	}
	return copySrc{backend: b, ref: storage.ObjectRef{Bucket: name, Key: key, VersionID: version}, bucket: bucket}, nil
}

// sameBackend reports whether a and b are the same backend instance, so a
// copy between them can be done inside the backend.
func sameBackend(a, b storage.Backend) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) || !reflect.TypeOf(a).Comparable() {
		return false
	}
	return a == b
}

// copyFailed maps a failed copy-source condition to PreconditionFailed, as
// S3 answers every x-amz-copy-source-if-* failure.
func copyFailed(err error) error {
	if errors.Is(err, s3err.ErrNotModified) {
		return s3err.ErrPreconditionFailed
	}
	return err
}

// openSource opens the source of a cross-backend copy; the caller closes it.
func openSource(ctx context.Context, src copySrc, opts storage.GetOptions) (*storage.Object, error) {
	opts.VersionID = src.ref.VersionID
	obj, err := src.backend.GetObject(ctx, src.ref.Bucket, src.ref.Key, opts)
	if err != nil {
		return nil, copyFailed(err)
	}
	return obj, nil
}

// sourceBody streams an opened source into a destination backend: exactly
// ContentLength bytes through a pooled buffer; a short source fails the write.
func (s *Server) sourceBody(obj *storage.Object) *bodyReader {
	var n int64
	return newBodyReader(obj.Body, obj.ContentLength, &n, s.bufs)
}

// sourceFailure explains a failed cross-backend write: a failing source is
// an internal error, anything else is the destination's error.
func sourceFailure(body *bodyReader, err error) error {
	if f := body.failure(); f != nil {
		return s3err.ErrInternalError.WithCause(f)
	}
	return err
}

func (s *Server) copyObject(rq *request) error {
	src, err := s.copySource(rq)
	if err != nil {
		return err
	}
	if !rq.allowed(iam.ActionWrite, rq.t.Bucket, rq.t.Key) {
		return s3err.ErrAccessDenied
	}
	h := rq.r.Header
	var replace bool
	switch d := h.Get("X-Amz-Metadata-Directive"); d {
	case "", "COPY":
	case "REPLACE":
		replace = true
	default:
		return s3err.ErrInvalidArgument.WithMessage("Unknown metadata directive.")
	}
	switch h.Get("X-Amz-Tagging-Directive") {
	case "", "COPY", "REPLACE": // accepted; dgp stores no tags
	default:
		return s3err.ErrInvalidArgument.WithMessage("Unknown tagging directive.")
	}
	if src.bucket == rq.t.Bucket && src.ref.Key == rq.t.Key && src.ref.VersionID == "" && !replace {
		return s3err.ErrInvalidRequest.WithMessage("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	put, err := putOptions(h)
	if err != nil {
		return err
	}
	put.ContentMD5 = "" // it would describe the (empty) request body
	if err := checkObjectACL(h); err != nil {
		return err
	}
	if put.Lock, err = s.lockHeaders(h); err != nil {
		return err
	}
	conds := parseConditions(h, "X-Amz-Copy-Source-")
	dstB, dstName, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	var res *storage.CopyResult
	if sameBackend(src.backend, dstB) {
		res, err = dstB.CopyObject(rq.ctx, src.ref, storage.ObjectRef{Bucket: dstName, Key: rq.t.Key},
			storage.CopyOptions{ReplaceMetadata: replace, Put: put, Conditions: conds})
		if err != nil {
			return copyFailed(err)
		}
	} else {
		res, err = s.streamCopy(rq.ctx, src, dstB, dstName, rq.t.Key, replace, put, conds)
		if err != nil {
			return err
		}
	}
	setCopyVersions(rq.w.Header(), src, res)
	return writeXML(rq, http.StatusOK, &copyObjectResult{LastModified: s3Time(res.LastModified), ETag: quoteETag(res.ETag)})
}

// setCopyVersions sets x-amz-copy-source-version-id and x-amz-version-id
// when the backend reported them.
func setCopyVersions(h http.Header, src copySrc, res *storage.CopyResult) {
	setSourceVersion(h, src, res)
	setVersionID(h, res.VersionID)
}

// setSourceVersion sets x-amz-copy-source-version-id: the version the
// backend copied, or the one the request named.
func setSourceVersion(h http.Header, src copySrc, res *storage.CopyResult) {
	switch {
	case res.SourceVersionID != "":
		h.Set("x-amz-copy-source-version-id", res.SourceVersionID)
	case src.ref.VersionID != "":
		h.Set("x-amz-copy-source-version-id", src.ref.VersionID)
	}
}

// streamCopy copies between two backends: Get from the source, Put to the destination.
func (s *Server) streamCopy(ctx context.Context, src copySrc, dstB storage.Backend, dstBucket, dstKey string,
	replace bool, put storage.PutOptions, conds storage.Conditions) (*storage.CopyResult, error) {
	obj, err := openSource(ctx, src, storage.GetOptions{Conditions: conds})
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	if obj.ContentLength > MaxPutSize {
		return nil, s3err.ErrInvalidRequest.WithMessage("The specified copy source is larger than the maximum allowable size for a copy source: %d", MaxPutSize)
	}
	if !replace {
		put.ContentType = obj.Info.ContentType
		put.UserMetadata = obj.Info.UserMetadata
		put.Headers = obj.Info.Headers
	}
	body := s.sourceBody(obj)
	res, err := dstB.PutObject(ctx, dstBucket, dstKey, body, obj.ContentLength, put)
	if err != nil {
		return nil, sourceFailure(body, err)
	}
	return &storage.CopyResult{ETag: res.ETag, LastModified: s.now(), VersionID: res.VersionID, SourceVersionID: obj.Info.VersionID}, nil
}

// parseCopyRange reads x-amz-copy-source-range: "bytes=first-last", inclusive.
func parseCopyRange(v string) (*storage.Range, error) {
	if v == "" {
		return nil, nil
	}
	bad := s3err.ErrInvalidArgument.WithMessage("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return nil, bad
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return nil, bad
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return nil, bad
	}
	if last-first+1 > MaxPutSize {
		return nil, s3err.ErrEntityTooLarge
	}
	return &storage.Range{Start: first, End: last}, nil
}

func (s *Server) uploadPartCopy(rq *request) error {
	uploadID := rq.q.Get("uploadId")
	if uploadID == "" {
		return s3err.ErrInvalidArgument.WithMessage("uploadId must be given with partNumber")
	}
	pn, err := parsePartNumber(rq.q.Get("partNumber"))
	if err != nil {
		return err
	}
	src, err := s.copySource(rq)
	if err != nil {
		return err
	}
	if !rq.allowed(iam.ActionWrite, rq.t.Bucket, rq.t.Key) {
		return s3err.ErrAccessDenied
	}
	rng, err := parseCopyRange(rq.r.Header.Get("X-Amz-Copy-Source-Range"))
	if err != nil {
		return err
	}
	conds := parseConditions(rq.r.Header, "X-Amz-Copy-Source-")
	dstB, dstName, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	var res *storage.CopyResult
	if sameBackend(src.backend, dstB) {
		res, err = dstB.UploadPartCopy(rq.ctx, src.ref, dstName, rq.t.Key, uploadID, pn,
			storage.CopyPartOptions{Range: rng, Conditions: conds})
		if err != nil {
			return copyFailed(err)
		}
	} else {
		obj, err := openSource(rq.ctx, src, storage.GetOptions{Range: rng, Conditions: conds})
		if err != nil {
			return err
		}
		defer obj.Body.Close()
		if rng != nil && obj.ContentLength != rng.End-rng.Start+1 {
			return s3err.ErrInvalidRange
		}
		if obj.ContentLength > MaxPutSize {
			return s3err.ErrEntityTooLarge
		}
		body := s.sourceBody(obj)
		pr, err := dstB.UploadPart(rq.ctx, dstName, rq.t.Key, uploadID, pn, body, obj.ContentLength, storage.PartOptions{})
		if err != nil {
			return sourceFailure(body, err)
		}
		res = &storage.CopyResult{ETag: pr.ETag, LastModified: s.now(), SourceVersionID: obj.Info.VersionID}
	}
	setSourceVersion(rq.w.Header(), src, res)
	return writeXML(rq, http.StatusOK, &copyPartResult{LastModified: s3Time(res.LastModified), ETag: quoteETag(res.ETag)})
}
