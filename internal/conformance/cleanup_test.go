//go:build integration

package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// cleanupBuckets empties (every version, with governance bypass, and every
// in-progress upload) and deletes the named buckets on tg. A version under
// COMPLIANCE retention blocks it until its date: with retry > 0 it tries
// again for that long.
func cleanupBuckets(t *testing.T, tg *target, buckets map[string]string, retry time.Duration) {
	c := tg.SDK()
	for _, b := range buckets {
		deadline := time.Now().Add(retry)
		for {
			err := emptyAndDelete(c, b)
			if err == nil || isCode(err, "NoSuchBucket") {
				break
			}
			if time.Now().After(deadline) {
				t.Logf("cleanup of bucket %s on %s: %v", b, tg.Name, err)
				break
			}
			time.Sleep(time.Second)
		}
	}
}

func emptyAndDelete(c *s3.Client, bucket string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	// encoding-type=url: keys with control characters are not valid XML 1.0
	// otherwise, and the SDK's decoder refuses them.
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), EncodingType: types.EncodingTypeUrl}
	for {
		out, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			if isCode(err, "NoSuchBucket") {
				return err
			}
			// No version listing: fall back to a plain listing.
			p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), EncodingType: types.EncodingTypeUrl})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				for _, o := range page.Contents {
					_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: unescape(o.Key)})
					keep(err)
				}
			}
			break
		}
		for _, v := range out.Versions {
			keep(deleteVersion(ctx, c, bucket, v.Key, v.VersionId))
		}
		for _, m := range out.DeleteMarkers {
			keep(deleteVersion(ctx, c, bucket, m.Key, m.VersionId))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = unescape(out.NextKeyMarker), out.NextVersionIdMarker
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err == nil {
		for _, u := range ups.Uploads {
			_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
			keep(err)
		}
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		if firstErr != nil {
			return fmt.Errorf("%w (after %v)", err, firstErr)
		}
		return err
	}
	return nil
}

func deleteVersion(ctx context.Context, c *s3.Client, bucket string, key, vid *string) error {
	key = unescape(key)
	in := &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: key, VersionId: vid, BypassGovernanceRetention: aws.Bool(true)}
	_, err := c.DeleteObject(ctx, in)
	if isCode(err, "AccessDenied") {
		// A legal hold blocks even a bypassing delete: lift it and retry.
		_, herr := c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String(bucket), Key: key, VersionId: vid,
			LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}})
		if herr == nil {
			_, err = c.DeleteObject(ctx, in)
		}
	}
	return err
}

// unescape decodes a key listed with encoding-type=url.
func unescape(k *string) *string {
	if k == nil {
		return nil
	}
	if d, err := url.QueryUnescape(*k); err == nil {
		return &d
	}
	return k
}

// isCode reports whether err is an S3 error with the given code.
func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
