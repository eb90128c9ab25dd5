package main

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// versionsLister lists with ListObjectVersions: the bench's buckets are
// not versioned, so every key is one null version and a page holds the
// keys a ListObjectsV2 page would. A continuation is the next key marker
// and version id marker joined by a NUL; a start-after key is the first
// key marker.
func versionsLister(c *s3.Client, bucket string) pageLister {
	return func(ctx context.Context, q pageQuery) (pageAnswer, error) {
		in := &s3.ListObjectVersionsInput{
			Bucket: aws.String(bucket), Prefix: aws.String(q.prefix), MaxKeys: aws.Int32(int32(q.maxKeys)),
		}
		if q.delimiter != "" {
			in.Delimiter = aws.String(q.delimiter)
		}
		if q.startAfter != "" {
			in.KeyMarker = aws.String(q.startAfter)
		}
		if q.token != "" {
			key, id, _ := strings.Cut(q.token, "\x00")
			in.KeyMarker = aws.String(key)
			if id != "" {
				in.VersionIdMarker = aws.String(id)
			}
		}
		out, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			return pageAnswer{}, err
		}
		a := pageAnswer{
			entries:   len(out.Versions) + len(out.DeleteMarkers) + len(out.CommonPrefixes),
			truncated: aws.ToBool(out.IsTruncated),
		}
		if a.truncated {
			a.next = aws.ToString(out.NextKeyMarker) + "\x00" + aws.ToString(out.NextVersionIdMarker)
		}
		return a, nil
	}
}

// s3PageLister is the lister of an S3 target: ListObjectVersions with
// --versions, else ListObjectsV2.
func (o listingOptions) s3PageLister(c *s3.Client, startAfter bool) pageLister {
	if o.versions {
		return versionsLister(c, o.bucket)
	}
	return s3Lister(c, o.bucket, startAfter)
}
