package s3backend

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// maxListKeys is S3's page size limit.
const maxListKeys = 1000

// pageSize clamps a requested page size to 0..maxListKeys and gives the
// MaxKeys to ask the upstream for: at least 1, so that a page size of 0
// still checks the bucket (and learns whether anything follows).
func pageSize(n int) (int, *int32) {
	n = min(max(n, 0), maxListKeys)
	return n, aws.Int32(int32(max(n, 1)))
}

// ListObjects lists one page with ListObjectsV2, StartAfter = opts.Marker,
// keys asked for URL-encoded (so that any key survives the XML) and decoded.
// When the page is truncated, NextMarker is the greater of the last key and
// the last common prefix returned (a common prefix given back as Marker
// skips that whole prefix, as S3 does). MaxKeys 0 returns nothing but still
// reports whether anything follows Marker (NextMarker is Marker then);
// MaxKeys above 1000 is 1000.
func (b *Backend) ListObjects(ctx context.Context, bucket string, opts storage.ListOptions) (*storage.ListResult, error) {
	if opts.Token != "" {
		res, err := b.listObjects(ctx, bucket, opts)
		if !errors.Is(err, s3err.ErrInvalidArgument) {
			return res, err
		}
		// A token the upstream no longer takes (expired, or not one it
		// issued): Marker is the same position.
		opts.Token = ""
	}
	return b.listObjects(ctx, bucket, opts)
}

func (b *Backend) listObjects(ctx context.Context, bucket string, opts storage.ListOptions) (*storage.ListResult, error) {
	maxKeys, ask := pageSize(opts.MaxKeys)
	if b.fast != nil {
		if t := b.fast.targetFor(ctx, bucket); t != nil {
			p, ok, err := b.fastListObjects(ctx, t, opts, *ask)
			if err != nil {
				return nil, err
			}
			if ok {
				if maxKeys == 0 {
					return emptyPage(len(p.objects) > 0 || len(p.prefixes) > 0 || p.truncated, opts.Marker), nil
				}
				res, err := p.toResult()
				if err != nil {
					return nil, err
				}
				return withNextMarker(res, opts.Marker), nil
			}
		}
	}
	in := &s3.ListObjectsV2Input{
		Bucket:     aws.String(bucket),
		Prefix:     optString(opts.Prefix),
		Delimiter:  optString(opts.Delimiter),
		StartAfter: optString(opts.Marker),
		MaxKeys:    ask,
		// Any key survives a URL-encoded listing; control characters
		// would make the XML unreadable.
		EncodingType: types.EncodingTypeUrl,
	}
	if opts.Token != "" {
		// The upstream's own cursor resumes faster than StartAfter.
		in.StartAfter, in.ContinuationToken = nil, aws.String(opts.Token)
	}
	out, err := b.client.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, translate(err, kindBucket)
	}
	if maxKeys == 0 {
		return emptyPage(len(out.Contents) > 0 || len(out.CommonPrefixes) > 0 || aws.ToBool(out.IsTruncated), opts.Marker), nil
	}

	dec := keyDecoder{encoded: out.EncodingType == types.EncodingTypeUrl}
	res := &storage.ListResult{IsTruncated: aws.ToBool(out.IsTruncated)}
	if res.IsTruncated {
		res.NextToken = aws.ToString(out.NextContinuationToken)
	}
	if len(out.Contents) > 0 {
		res.Objects = make([]storage.ObjectInfo, 0, len(out.Contents))
	}
	for _, o := range out.Contents {
		res.Objects = append(res.Objects, storage.ObjectInfo{
			Key:          dec.decode(aws.ToString(o.Key)),
			Size:         aws.ToInt64(o.Size),
			ETag:         quoteETag(aws.ToString(o.ETag)),
			LastModified: aws.ToTime(o.LastModified),
			StorageClass: string(o.StorageClass),
		})
	}
	res.CommonPrefixes = dec.prefixes(out.CommonPrefixes)
	if dec.err != nil {
		return nil, errUnreadableListing(dec.err)
	}
	return withNextMarker(res, opts.Marker), nil
}

// emptyPage is the answer to MaxKeys 0: nothing, but whether anything
// follows marker.
func emptyPage(truncated bool, marker string) *storage.ListResult {
	res := &storage.ListResult{IsTruncated: truncated}
	if truncated {
		res.NextMarker = marker
	}
	return res
}

// withNextMarker sets a truncated page's NextMarker: the greater of its
// last key and last common prefix (marker for an empty page).
func withNextMarker(res *storage.ListResult, marker string) *storage.ListResult {
	if res.IsTruncated {
		var last string
		if n := len(res.Objects); n > 0 {
			last = res.Objects[n-1].Key
		}
		if n := len(res.CommonPrefixes); n > 0 && res.CommonPrefixes[n-1] > last {
			last = res.CommonPrefixes[n-1]
		}
		if last == "" {
			last = marker
		}
		res.NextMarker = last
	}
	return res
}

// errUnreadableListing is the error of a listing whose URL-encoded names
// do not decode.
func errUnreadableListing(cause error) error {
	return s3err.ErrInternalError.WithMessage("%s", "The storage backend sent an unreadable response.").WithCause(cause)
}
