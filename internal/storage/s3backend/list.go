package s3backend

import (
	"context"

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
	maxKeys, ask := pageSize(opts.MaxKeys)
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
	out, err := b.client.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, translate(err, kindBucket)
	}
	if maxKeys == 0 {
		truncated := len(out.Contents) > 0 || len(out.CommonPrefixes) > 0 || aws.ToBool(out.IsTruncated)
		res := &storage.ListResult{IsTruncated: truncated}
		if truncated {
			res.NextMarker = opts.Marker
		}
		return res, nil
	}

	dec := keyDecoder{encoded: out.EncodingType == types.EncodingTypeUrl}
	res := &storage.ListResult{IsTruncated: aws.ToBool(out.IsTruncated)}
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
	if res.IsTruncated {
		var last string
		if n := len(res.Objects); n > 0 {
			last = res.Objects[n-1].Key
		}
		if n := len(res.CommonPrefixes); n > 0 && res.CommonPrefixes[n-1] > last {
			last = res.CommonPrefixes[n-1]
		}
		if last == "" {
			last = opts.Marker
		}
		res.NextMarker = last
	}
	return res, nil
}

// errUnreadableListing is the error of a listing whose URL-encoded names
// do not decode.
func errUnreadableListing(cause error) error {
	return s3err.ErrInternalError.WithMessage("%s", "The storage backend sent an unreadable response.").WithCause(cause)
}
