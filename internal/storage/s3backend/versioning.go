package s3backend

import (
	"context"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// GetBucketVersioning returns the bucket's versioning state as the upstream
// reports it ("" for a bucket that never had versioning).
func (b *Backend) GetBucketVersioning(ctx context.Context, bucket string) (storage.VersioningStatus, error) {
	out, err := b.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	if err != nil {
		return storage.VersioningOff, translate(err, kindBucket)
	}
	return storage.VersioningStatus(out.Status), nil
}

// PutBucketVersioning sets the bucket's versioning state; the upstream
// decides what is allowed (InvalidBucketState when suspending a bucket
// with object lock, IllegalVersioningConfigurationException for a status
// it does not know).
func (b *Backend) PutBucketVersioning(ctx context.Context, bucket string, status storage.VersioningStatus) error {
	_, err := b.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatus(status)},
	})
	return translate(err, kindBucket)
}

// ListObjectVersions lists one page of versions and delete markers in the
// order the upstream sent them (by key, newest first), with its paging
// markers passed through as they are. Keys are asked for URL-encoded (so
// that any key survives the XML) and decoded here. MaxKeys 0 answers an
// empty, untruncated page (after checking the bucket); MaxKeys above 1000
// is 1000. The page is read by the listing scanner (listvfast.go), or,
// without the fast path or for an answer the scanner does not read,
// through the SDK (see orderVersions for how its two slices are merged).
func (b *Backend) ListObjectVersions(ctx context.Context, bucket string, opts storage.ListVersionsOptions) (*storage.ListVersionsResult, error) {
	maxKeys, ask := pageSize(opts.MaxKeys)
	if b.fast != nil {
		if t := b.fast.targetFor(ctx, bucket); t != nil {
			p, ok, err := b.fastListVersions(ctx, t, opts, *ask)
			if err != nil {
				return nil, err
			}
			if ok {
				if maxKeys == 0 {
					return &storage.ListVersionsResult{}, nil
				}
				return p.toVersionsResult()
			}
		}
	}
	in := &s3.ListObjectVersionsInput{
		Bucket:          aws.String(bucket),
		Prefix:          optString(opts.Prefix),
		Delimiter:       optString(opts.Delimiter),
		KeyMarker:       optString(opts.KeyMarker),
		VersionIdMarker: optString(opts.VersionIDMarker),
		MaxKeys:         ask,
		EncodingType:    types.EncodingTypeUrl,
	}
	var order orderCapture
	out, err := b.client.ListObjectVersions(ctx, in, order.option)
	if err != nil {
		return nil, translate(err, kindBucket)
	}
	if maxKeys == 0 {
		return &storage.ListVersionsResult{}, nil
	}
	dec := keyDecoder{encoded: out.EncodingType == types.EncodingTypeUrl}
	versions := make([]storage.ObjectInfo, len(out.Versions))
	for i, v := range out.Versions {
		versions[i] = versionInfo(v)
		versions[i].Key = dec.decode(versions[i].Key)
	}
	markers := make([]storage.ObjectInfo, len(out.DeleteMarkers))
	for i, m := range out.DeleteMarkers {
		markers[i] = markerInfo(m)
		markers[i].Key = dec.decode(markers[i].Key)
	}
	res := &storage.ListVersionsResult{
		Versions:            orderVersions(versions, markers, order.markers),
		IsTruncated:         aws.ToBool(out.IsTruncated),
		NextKeyMarker:       dec.decode(aws.ToString(out.NextKeyMarker)),
		NextVersionIDMarker: aws.ToString(out.NextVersionIdMarker),
	}
	res.CommonPrefixes = dec.prefixes(out.CommonPrefixes)
	if dec.err != nil {
		return nil, errUnreadableListing(dec.err)
	}
	return res, nil
}

// keyDecoder undoes encoding-type=url (as S3 and MinIO encode: query
// escaping, a space as '+') when the answer says it is encoded, and
// remembers the first malformed value.
type keyDecoder struct {
	encoded bool
	err     error
}

func (d *keyDecoder) decode(s string) string {
	if !d.encoded || s == "" {
		return s
	}
	out, err := url.QueryUnescape(s)
	if err != nil {
		if d.err == nil {
			d.err = err
		}
		return s
	}
	return out
}

// prefixes decodes a page's common prefixes (nil when there are none).
func (d *keyDecoder) prefixes(cps []types.CommonPrefix) []string {
	var out []string
	for _, p := range cps {
		out = append(out, d.decode(aws.ToString(p.Prefix)))
	}
	return out
}

// versionInfo is the storage view of a listed version.
func versionInfo(v types.ObjectVersion) storage.ObjectInfo {
	return storage.ObjectInfo{
		Key:          aws.ToString(v.Key),
		Size:         aws.ToInt64(v.Size),
		ETag:         quoteETag(aws.ToString(v.ETag)),
		LastModified: aws.ToTime(v.LastModified),
		StorageClass: string(v.StorageClass),
		VersionID:    aws.ToString(v.VersionId),
		IsLatest:     aws.ToBool(v.IsLatest),
	}
}

// markerInfo is the storage view of a listed delete marker.
func markerInfo(m types.DeleteMarkerEntry) storage.ObjectInfo {
	return storage.ObjectInfo{
		Key:          aws.ToString(m.Key),
		LastModified: aws.ToTime(m.LastModified),
		VersionID:    aws.ToString(m.VersionId),
		IsLatest:     aws.ToBool(m.IsLatest),
		DeleteMarker: true,
	}
}
