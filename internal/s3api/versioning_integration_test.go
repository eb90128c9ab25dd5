//go:build integration

package s3api

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// minioEnv serves dgp in front of the shared MinIO (the S3 backend).
func minioEnv(t *testing.T) *testEnv {
	t.Helper()
	m := testutil.RequireMinIO(t)
	be, err := s3backend.New(context.Background(), s3backend.Options{Name: "minio", Endpoint: m.Endpoint,
		AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey, ForcePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	router, err := storage.NewRouter([]storage.Backend{be}, "minio", nil)
	if err != nil {
		t.Fatal(err)
	}
	return newTestEnvWith(t, false, router)
}

// purgeBucket removes every version of bucket (lifting legal holds and
// bypassing governance retention) and the bucket, through dgp.
func purgeBucket(t *testing.T, c *s3.Client, bucket string) {
	ctx := context.Background()
	b := aws.String(bucket)
	in := &s3.ListObjectVersionsInput{Bucket: b}
	for {
		out, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			t.Logf("purge %s: %v", bucket, err)
			return
		}
		ids := make([]types.ObjectIdentifier, 0, len(out.Versions)+len(out.DeleteMarkers))
		for _, v := range out.Versions {
			_, _ = c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: b, Key: v.Key, VersionId: v.VersionId,
				LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}})
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, d := range out.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: d.Key, VersionId: d.VersionId})
		}
		if len(ids) > 0 {
			if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, BypassGovernanceRetention: aws.Bool(true),
				Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
				t.Logf("purge %s: %v", bucket, err)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Logf("purge %s: %v", bucket, err)
	}
}

// TestVersioningMinIO runs the versioning and object lock scenarios through
// dgp passed through to MinIO.
func TestVersioningMinIO(t *testing.T) {
	e := minioEnv(t)
	bucket := testutil.UniqueName("dgp-ver")
	t.Cleanup(func() { purgeBucket(t, e.root(), bucket) })
	versioningScenario(t, e, bucket, true)
}

func TestObjectLockMinIO(t *testing.T) {
	e := minioEnv(t)
	locked, unlocked := testutil.UniqueName("dgp-lock"), testutil.UniqueName("dgp-nolock")
	t.Cleanup(func() { purgeBucket(t, e.root(), locked); purgeBucket(t, e.root(), unlocked) })
	lockScenario(t, e, locked, unlocked, true)
}

// TestSemanticsMinIO runs the S3 semantics scenarios (HEAD Range, max-keys
// 0, control characters, copy directives, conditional answers, ACLs)
// through dgp passed through to MinIO.
func TestSemanticsMinIO(t *testing.T) {
	e := minioEnv(t)
	for _, sc := range []struct {
		name string
		run  func(t *testing.T, e *testEnv, bucket string)
	}{
		{"head-range", headRangeScenario},
		{"max-keys-zero", maxKeysZeroScenario},
		{"control-keys", controlKeysScenario},
		{"copy-directives", copyDirectivesScenario},
		{"conditional", conditionalScenario},
		{"acl", func(t *testing.T, e *testEnv, bucket string) { aclScenario(t, e, bucket, true) }},
	} {
		t.Run(sc.name, func(t *testing.T) {
			bucket := testutil.UniqueName("dgp-sem")
			t.Cleanup(func() {
				purgeBucket(t, e.root(), bucket)
				if sc.name == "acl" {
					purgeBucket(t, e.root(), bucket+"-enf")
				}
			})
			sc.run(t, e, bucket)
		})
	}
}
