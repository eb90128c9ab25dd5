package s3backend

import (
	"context"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// TODO(issue 12): versioning and object lock; these stubs keep the tree building.

// GetBucketVersioning implements storage.Versioning.
func (b *Backend) GetBucketVersioning(ctx context.Context, bucket string) (storage.VersioningStatus, error) {
	return storage.VersioningOff, s3err.ErrNotImplemented
}

// PutBucketVersioning implements storage.Versioning.
func (b *Backend) PutBucketVersioning(ctx context.Context, bucket string, status storage.VersioningStatus) error {
	return s3err.ErrNotImplemented
}

// ListObjectVersions implements storage.Versioning.
func (b *Backend) ListObjectVersions(ctx context.Context, bucket string, opts storage.ListVersionsOptions) (*storage.ListVersionsResult, error) {
	return nil, s3err.ErrNotImplemented
}

// GetObjectLockConfiguration implements storage.ObjectLock.
func (b *Backend) GetObjectLockConfiguration(ctx context.Context, bucket string) (*storage.ObjectLockConfig, error) {
	return nil, s3err.ErrNotImplemented
}

// PutObjectLockConfiguration implements storage.ObjectLock.
func (b *Backend) PutObjectLockConfiguration(ctx context.Context, bucket string, cfg storage.ObjectLockConfig) error {
	return s3err.ErrNotImplemented
}

// GetObjectRetention implements storage.ObjectLock.
func (b *Backend) GetObjectRetention(ctx context.Context, bucket, key, versionID string) (*storage.Retention, error) {
	return nil, s3err.ErrNotImplemented
}

// PutObjectRetention implements storage.ObjectLock.
func (b *Backend) PutObjectRetention(ctx context.Context, bucket, key, versionID string, r storage.Retention, bypassGovernance bool) error {
	return s3err.ErrNotImplemented
}

// GetObjectLegalHold implements storage.ObjectLock.
func (b *Backend) GetObjectLegalHold(ctx context.Context, bucket, key, versionID string) (bool, error) {
	return false, s3err.ErrNotImplemented
}

// PutObjectLegalHold implements storage.ObjectLock.
func (b *Backend) PutObjectLegalHold(ctx context.Context, bucket, key, versionID string, on bool) error {
	return s3err.ErrNotImplemented
}
