package storage

import (
	"context"
	"errors"
	"time"
)

// Versioning is what a backend does for S3 bucket versioning.
//
// A bucket's state is "" (versioning never enabled), Enabled or Suspended;
// once enabled it can only be suspended, never return to "". The rules are
// S3's (https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html):
//
//   - unversioned: a put replaces the object, a delete removes it; objects
//     are listed as one version each with id "null" (IsLatest true);
//   - Enabled: a put adds a version with a new id; a delete without a
//     version id adds a delete marker (a version with no data) that becomes
//     the latest; a delete with a version id removes that version for good
//     (the newest remaining version becomes the latest);
//   - Suspended: a put writes the "null" version, replacing any earlier null
//     version; a delete without a version id replaces the null version with
//     a null delete marker.
//
// GET/HEAD of a key whose latest version is a delete marker is NoSuchKey
// (with x-amz-delete-marker: true); GET/HEAD naming a marker's version id is
// MethodNotAllowed. A version id that does not exist is NoSuchVersion
// (InvalidArgument when it is not even well-formed).
type Versioning interface {
	GetBucketVersioning(ctx context.Context, bucket string) (VersioningStatus, error)
	// PutBucketVersioning sets Enabled or Suspended. Suspending a bucket
	// with object lock enabled is InvalidBucketState.
	PutBucketVersioning(ctx context.Context, bucket string, status VersioningStatus) error
	// ListObjectVersions lists versions and delete markers in S3's order:
	// by key, then newest first.
	ListObjectVersions(ctx context.Context, bucket string, opts ListVersionsOptions) (*ListVersionsResult, error)
}

// VersioningStatus is a bucket's versioning state.
type VersioningStatus string

// The versioning states. VersioningOff is never sent by clients: it is a
// bucket that never had versioning enabled.
const (
	VersioningOff       VersioningStatus = ""
	VersioningEnabled   VersioningStatus = "Enabled"
	VersioningSuspended VersioningStatus = "Suspended"
)

// NullVersion is the version id of the null version.
const NullVersion = "null"

// CreateBucketOptions parameterise CreateBucket.
type CreateBucketOptions struct {
	// ObjectLockEnabled creates the bucket with object lock (and so
	// versioning) enabled: x-amz-bucket-object-lock-enabled: true.
	ObjectLockEnabled bool
}

// DeleteOptions parameterise DeleteObject.
type DeleteOptions struct {
	// VersionID removes that version ("" = the plain delete).
	VersionID string
	// BypassGovernance is x-amz-bypass-governance-retention: true (the
	// caller's right to bypass was checked by the S3 API).
	BypassGovernance bool
}

// DeleteResult is what DeleteObject reports: the version it removed or the
// delete marker it created (VersionID "" in an unversioned bucket).
type DeleteResult struct {
	VersionID    string
	DeleteMarker bool
}

// BatchDeleter is a Backend that deletes up to 1,000 objects of a bucket
// in one call (an S3 backend: one DeleteObjects request, where deleting
// key by key made a request each). The S3 API uses it for DeleteObjects
// when the backend has it.
type BatchDeleter interface {
	// DeleteObjects deletes objs (each as DeleteObject with its
	// VersionID and bypassGovernance would) and reports each object's
	// outcome, indexed as objs: a result, or that object's error (the
	// others are still deleted); ErrNotBatched for an object the backend
	// left for the caller to delete by itself. err is a failure of the
	// whole call, in which nothing is known to be deleted;
	// s3err.ErrNotImplemented when the backend has no batch delete (the
	// caller then deletes key by key).
	DeleteObjects(ctx context.Context, bucket string, objs []ObjectToDelete, bypassGovernance bool) ([]DeleteOutcome, error)
}

// ErrNotBatched is the outcome of an object a BatchDeleter did not delete
// because its batch cannot carry it (or not faithfully): the caller
// deletes it with DeleteObject.
var ErrNotBatched = errors.New("storage: not deleted in the batch; delete it by itself")

// ObjectToDelete names an object of a batch delete: a key, and a version
// ("" = the plain delete).
type ObjectToDelete struct {
	Key, VersionID string
}

// DeleteOutcome is one object's outcome in a batch delete: Err, or Result.
type DeleteOutcome struct {
	Result DeleteResult
	Err    error
}

// ListVersionsOptions are ListObjectVersions' parameters. Listing starts
// after (KeyMarker, VersionIDMarker): with only KeyMarker, after every
// version of that key; with both, after that version of that key.
type ListVersionsOptions struct {
	Prefix          string
	Delimiter       string
	KeyMarker       string
	VersionIDMarker string
	MaxKeys         int // 0..1000; 0 answers an empty, untruncated page
}

// ListVersionsResult is one page of versions. Versions holds versions and
// delete markers (DeleteMarker true) in listing order, each with
// VersionID ("null" for null versions, also in unversioned buckets) and
// IsLatest set. CommonPrefixes and versions each count against MaxKeys.
type ListVersionsResult struct {
	Versions            []ObjectInfo
	CommonPrefixes      []string
	IsTruncated         bool
	NextKeyMarker       string
	NextVersionIDMarker string
}

// ObjectLock is what a backend does for S3 Object Lock
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html).
//
// A version under retention cannot be deleted (DeleteObject with its
// version id) or have its retention shortened or removed before
// RetainUntil: GOVERNANCE unless BypassGovernance, COMPLIANCE never. A
// version under legal hold cannot be deleted at all. Those refusals are
// AccessDenied. Deletes without a version id (delete markers) and new
// versions are always allowed. Lock calls on a bucket without object lock
// are InvalidRequest ("Bucket is missing Object Lock Configuration").
type ObjectLock interface {
	// GetObjectLockConfiguration is ObjectLockConfigurationNotFoundError
	// on a bucket without object lock.
	GetObjectLockConfiguration(ctx context.Context, bucket string) (*ObjectLockConfig, error)
	// PutObjectLockConfiguration sets the default retention (Rule nil
	// removes it). Enabling lock on a bucket that does not have it needs
	// versioning Enabled (else InvalidBucketState).
	PutObjectLockConfiguration(ctx context.Context, bucket string, cfg ObjectLockConfig) error
	// GetObjectRetention is NoSuchObjectLockConfiguration when the
	// version has no retention.
	GetObjectRetention(ctx context.Context, bucket, key, versionID string) (*Retention, error)
	// PutObjectRetention sets (or, with a zero Retention, removes) a
	// version's retention.
	PutObjectRetention(ctx context.Context, bucket, key, versionID string, r Retention, bypassGovernance bool) error
	GetObjectLegalHold(ctx context.Context, bucket, key, versionID string) (bool, error)
	PutObjectLegalHold(ctx context.Context, bucket, key, versionID string, on bool) error
}

// Retention modes.
const (
	LockGovernance = "GOVERNANCE"
	LockCompliance = "COMPLIANCE"
)

// ObjectLockConfig is a bucket's object lock configuration.
type ObjectLockConfig struct {
	Enabled bool
	// Rule is the default retention of new versions (nil: none).
	Rule *DefaultRetention
}

// DefaultRetention is a bucket's default retention: Mode and exactly one
// of Days and Years (both positive).
type DefaultRetention struct {
	Mode  string
	Days  int
	Years int
}

// Retention is a version's retention: Mode and the date it ends.
type Retention struct {
	Mode        string
	RetainUntil time.Time
}

// LockState is a version's object lock state.
type LockState struct {
	Retention Retention // zero Mode: no retention
	// LegalHold is true while a legal hold is on. LegalHoldSet tells a
	// put that asked for OFF from one that asked nothing.
	LegalHold    bool
	LegalHoldSet bool
}
