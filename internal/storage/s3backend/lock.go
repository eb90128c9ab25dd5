package s3backend

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// Object lock is passed through: the upstream enforces retention and legal
// holds and answers with S3's codes (ObjectLockConfigurationNotFoundError,
// NoSuchObjectLockConfiguration, InvalidRequest on a bucket without object
// lock, AccessDenied for a refused delete or shortened retention).

// GetObjectLockConfiguration returns the bucket's object lock
// configuration.
func (b *Backend) GetObjectLockConfiguration(ctx context.Context, bucket string) (*storage.ObjectLockConfig, error) {
	out, err := b.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return nil, translate(err, kindBucket)
	}
	cfg := &storage.ObjectLockConfig{}
	c := out.ObjectLockConfiguration
	if c == nil {
		return cfg, nil
	}
	cfg.Enabled = c.ObjectLockEnabled == types.ObjectLockEnabledEnabled
	if c.Rule != nil && c.Rule.DefaultRetention != nil {
		d := c.Rule.DefaultRetention
		cfg.Rule = &storage.DefaultRetention{
			Mode:  string(d.Mode),
			Days:  int(aws.ToInt32(d.Days)),
			Years: int(aws.ToInt32(d.Years)),
		}
	}
	return cfg, nil
}

// PutObjectLockConfiguration sets the bucket's object lock configuration
// (cfg.Rule nil: no default retention).
func (b *Backend) PutObjectLockConfiguration(ctx context.Context, bucket string, cfg storage.ObjectLockConfig) error {
	c := &types.ObjectLockConfiguration{}
	if cfg.Enabled {
		c.ObjectLockEnabled = types.ObjectLockEnabledEnabled
	}
	if r := cfg.Rule; r != nil {
		d := &types.DefaultRetention{Mode: types.ObjectLockRetentionMode(r.Mode)}
		if r.Days != 0 {
			d.Days = aws.Int32(int32(r.Days))
		}
		if r.Years != 0 {
			d.Years = aws.Int32(int32(r.Years))
		}
		c.Rule = &types.ObjectLockRule{DefaultRetention: d}
	}
	_, err := b.client.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{
		Bucket:                  aws.String(bucket),
		ObjectLockConfiguration: c,
	})
	return translate(err, kindBucket)
}

// GetObjectRetention returns a version's retention (versionID "" is the
// current version).
func (b *Backend) GetObjectRetention(ctx context.Context, bucket, key, versionID string) (*storage.Retention, error) {
	out, err := b.client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{
		Bucket: aws.String(bucket), Key: aws.String(key), VersionId: optString(versionID),
	})
	if err != nil {
		return nil, translate(err, objectKind(versionID))
	}
	r := &storage.Retention{}
	if out.Retention != nil {
		r.Mode = string(out.Retention.Mode)
		r.RetainUntil = aws.ToTime(out.Retention.RetainUntilDate)
	}
	return r, nil
}

// PutObjectRetention sets a version's retention; a zero r sends an empty
// Retention, which removes it (GOVERNANCE only, with bypassGovernance).
func (b *Backend) PutObjectRetention(ctx context.Context, bucket, key, versionID string, r storage.Retention, bypassGovernance bool) error {
	ret := &types.ObjectLockRetention{Mode: types.ObjectLockRetentionMode(r.Mode)}
	if !r.RetainUntil.IsZero() {
		ret.RetainUntilDate = aws.Time(r.RetainUntil)
	}
	in := &s3.PutObjectRetentionInput{
		Bucket: aws.String(bucket), Key: aws.String(key), VersionId: optString(versionID),
		Retention: ret,
	}
	if bypassGovernance {
		in.BypassGovernanceRetention = aws.Bool(true)
	}
	_, err := b.client.PutObjectRetention(ctx, in)
	return translate(err, objectKind(versionID))
}

// GetObjectLegalHold reports whether a version is under legal hold.
func (b *Backend) GetObjectLegalHold(ctx context.Context, bucket, key, versionID string) (bool, error) {
	out, err := b.client.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{
		Bucket: aws.String(bucket), Key: aws.String(key), VersionId: optString(versionID),
	})
	if err != nil {
		return false, translate(err, objectKind(versionID))
	}
	return out.LegalHold != nil && out.LegalHold.Status == types.ObjectLockLegalHoldStatusOn, nil
}

// PutObjectLegalHold puts a legal hold on a version or lifts it.
func (b *Backend) PutObjectLegalHold(ctx context.Context, bucket, key, versionID string, on bool) error {
	status := types.ObjectLockLegalHoldStatusOff
	if on {
		status = types.ObjectLockLegalHoldStatusOn
	}
	_, err := b.client.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{
		Bucket: aws.String(bucket), Key: aws.String(key), VersionId: optString(versionID),
		LegalHold: &types.ObjectLockLegalHold{Status: status},
	})
	return translate(err, objectKind(versionID))
}
