package s3backend

import (
	"context"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// Upload ids are the upstream's own, passed through unchanged both ways, so
// any instance of a fleet can continue an upload another one started.

// CreateMultipartUpload starts an upload storing opts' metadata and lock
// state and returns the upstream upload id.
func (b *Backend) CreateMultipartUpload(ctx context.Context, bucket, key string, opts storage.PutOptions) (string, error) {
	in := &s3.CreateMultipartUploadInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String(key),
		Metadata:    opts.UserMetadata,
		ContentType: optString(opts.ContentType),
	}
	h := parseStoredHeaders(opts.Headers)
	in.CacheControl, in.ContentDisposition, in.ContentEncoding, in.ContentLanguage = h.fields()
	lock := lockFields(opts.Lock)
	in.ObjectLockMode, in.ObjectLockRetainUntilDate, in.ObjectLockLegalHoldStatus = lock.mode, lock.until, lock.hold
	var apiOpts []func(*s3.Options)
	if h.expires != "" {
		apiOpts = append(apiOpts, s3.WithAPIOptions(smithyhttp.SetHeaderValue("Expires", h.expires)))
	}
	out, err := b.client.CreateMultipartUpload(ctx, in, apiOpts...)
	if err != nil {
		return "", translate(err, kindObject)
	}
	return aws.ToString(out.UploadId), nil
}

// UploadPart streams exactly size bytes of body as part partNumber, with the
// same body guarantees as PutObject (size -1 is MissingContentLength).
func (b *Backend) UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, body io.Reader, size int64, opts storage.PartOptions) (*storage.PartResult, error) {
	if size < 0 {
		return nil, s3err.ErrMissingContentLength
	}
	pn, err := partNumberField(partNumber)
	if err != nil {
		return nil, err
	}
	if t := b.fastTarget(ctx, bucket, key); t != nil {
		return b.fastUploadPart(ctx, t, key, uploadID, partNumber, body, size, opts)
	}
	in := &s3.UploadPartInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		UploadId:      aws.String(uploadID),
		PartNumber:    pn,
		ContentLength: aws.Int64(size),
		ContentMD5:    optString(opts.ContentMD5),
	}
	ub := newUploadBody(body, size)
	if size > 0 {
		in.Body = ub
	}
	out, err := b.client.UploadPart(ctx, in, streamingOptions(storedHeaders{})...)
	if bodyErr := ub.finish(); bodyErr != nil {
		return nil, bodyError("upload part", bodyErr)
	}
	if err != nil {
		return nil, translate(err, kindUpload)
	}
	return &storage.PartResult{ETag: quoteETag(aws.ToString(out.ETag))}, nil
}

// UploadPartCopy copies src (src.VersionID: that version; or the inclusive
// byte range opts.Range of it, which must have both ends) into part
// partNumber.
func (b *Backend) UploadPartCopy(ctx context.Context, src storage.ObjectRef, bucket, key, uploadID string, partNumber int, opts storage.CopyPartOptions) (*storage.CopyResult, error) {
	pn, err := partNumberField(partNumber)
	if err != nil {
		return nil, err
	}
	in := &s3.UploadPartCopyInput{
		Bucket:     aws.String(bucket),
		Key:        aws.String(key),
		UploadId:   aws.String(uploadID),
		PartNumber: pn,
		CopySource: aws.String(copySource(src)),
	}
	in.CopySourceIfMatch, in.CopySourceIfNoneMatch, in.CopySourceIfModifiedSince, in.CopySourceIfUnmodifiedSince = conditionFields(opts.Conditions)
	if r := opts.Range; r != nil {
		if r.Start < 0 || r.End < r.Start {
			return nil, s3err.ErrInvalidArgument.WithMessage("%s", "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
		}
		in.CopySourceRange = aws.String("bytes=" + strconv.FormatInt(r.Start, 10) + "-" + strconv.FormatInt(r.End, 10))
	}
	out, err := b.client.UploadPartCopy(ctx, in)
	if err != nil {
		return nil, translate(err, kindUpload)
	}
	res := &storage.CopyResult{SourceVersionID: aws.ToString(out.CopySourceVersionId)}
	if out.CopyPartResult != nil {
		res.ETag = quoteETag(aws.ToString(out.CopyPartResult.ETag))
		res.LastModified = aws.ToTime(out.CopyPartResult.LastModified)
	}
	return res, nil
}

// CompleteMultipartUpload assembles the parts into the object.
func (b *Backend) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []storage.CompletedPart) (*storage.PutResult, error) {
	completed := make([]types.CompletedPart, 0, len(parts))
	for _, p := range parts {
		pn, err := partNumberField(p.PartNumber)
		if err != nil {
			return nil, s3err.ErrInvalidPart.WithMessage("%s", "invalid part number "+strconv.Itoa(p.PartNumber))
		}
		completed = append(completed, types.CompletedPart{PartNumber: pn, ETag: aws.String(p.ETag)})
	}
	out, err := b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(bucket),
		Key:             aws.String(key),
		UploadId:        aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	})
	if err != nil {
		return nil, translate(err, kindUpload)
	}
	return &storage.PutResult{ETag: quoteETag(aws.ToString(out.ETag)), VersionID: aws.ToString(out.VersionId)}, nil
}

// AbortMultipartUpload discards an upload and its parts.
func (b *Backend) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	_, err := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(bucket),
		Key:      aws.String(key),
		UploadId: aws.String(uploadID),
	})
	return translate(err, kindUpload)
}

// ListParts lists one page of an upload's parts.
func (b *Backend) ListParts(ctx context.Context, bucket, key, uploadID string, opts storage.ListPartsOptions) (*storage.ListPartsResult, error) {
	in := &s3.ListPartsInput{
		Bucket:   aws.String(bucket),
		Key:      aws.String(key),
		UploadId: aws.String(uploadID),
	}
	if opts.PartNumberMarker > 0 {
		in.PartNumberMarker = aws.String(strconv.Itoa(opts.PartNumberMarker))
	}
	if opts.MaxParts > 0 {
		in.MaxParts = aws.Int32(int32(min(opts.MaxParts, 1000)))
	}
	out, err := b.client.ListParts(ctx, in)
	if err != nil {
		return nil, translate(err, kindUpload)
	}
	res := &storage.ListPartsResult{
		Parts:       make([]storage.PartInfo, 0, len(out.Parts)),
		IsTruncated: aws.ToBool(out.IsTruncated),
	}
	for _, p := range out.Parts {
		res.Parts = append(res.Parts, storage.PartInfo{
			PartNumber:   int(aws.ToInt32(p.PartNumber)),
			ETag:         quoteETag(aws.ToString(p.ETag)),
			Size:         aws.ToInt64(p.Size),
			LastModified: aws.ToTime(p.LastModified),
		})
	}
	if res.IsTruncated {
		if n, err := strconv.Atoi(aws.ToString(out.NextPartNumberMarker)); err == nil {
			res.NextPartNumberMarker = n
		} else if len(res.Parts) > 0 {
			res.NextPartNumberMarker = res.Parts[len(res.Parts)-1].PartNumber
		}
	}
	return res, nil
}

// ListMultipartUploads lists one page of the bucket's uploads in progress
// (keys asked for URL-encoded and decoded, as ListObjects does).
func (b *Backend) ListMultipartUploads(ctx context.Context, bucket string, opts storage.ListUploadsOptions) (*storage.ListUploadsResult, error) {
	in := &s3.ListMultipartUploadsInput{
		Bucket:         aws.String(bucket),
		Prefix:         optString(opts.Prefix),
		Delimiter:      optString(opts.Delimiter),
		KeyMarker:      optString(opts.KeyMarker),
		UploadIdMarker: optString(opts.UploadIDMarker),
		EncodingType:   types.EncodingTypeUrl,
	}
	if opts.MaxUploads > 0 {
		in.MaxUploads = aws.Int32(int32(min(opts.MaxUploads, 1000)))
	}
	out, err := b.client.ListMultipartUploads(ctx, in)
	if err != nil {
		return nil, translate(err, kindBucket)
	}
	dec := keyDecoder{encoded: out.EncodingType == types.EncodingTypeUrl}
	res := &storage.ListUploadsResult{
		Uploads:            make([]storage.UploadInfo, 0, len(out.Uploads)),
		IsTruncated:        aws.ToBool(out.IsTruncated),
		NextKeyMarker:      dec.decode(aws.ToString(out.NextKeyMarker)),
		NextUploadIDMarker: aws.ToString(out.NextUploadIdMarker),
	}
	for _, u := range out.Uploads {
		res.Uploads = append(res.Uploads, storage.UploadInfo{
			Key:       dec.decode(aws.ToString(u.Key)),
			UploadID:  aws.ToString(u.UploadId),
			Initiated: aws.ToTime(u.Initiated),
		})
	}
	for _, p := range out.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, dec.decode(aws.ToString(p.Prefix)))
	}
	if dec.err != nil {
		return nil, errUnreadableListing(dec.err)
	}
	return res, nil
}

// partNumberField validates an S3 part number (1..10000).
func partNumberField(n int) (*int32, error) {
	if n < 1 || n > 10000 {
		return nil, s3err.ErrInvalidArgument.WithMessage("%s", "Part number must be an integer between 1 and 10000, inclusive")
	}
	return aws.Int32(int32(n)), nil
}
