// Package storage defines what a storage backend is (a directory, or any
// S3-compatible service) and routes a client-facing bucket to one.
//
// Backends return *s3err.Error values (NoSuchBucket, NoSuchKey, NoSuchUpload,
// PreconditionFailed, NotModified, InvalidRange, BucketNotEmpty, ...) so that
// the S3 API renders upstream failures with their S3 code and status.
// Bodies are streamed: a backend never reads a whole body into memory.
package storage

import (
	"context"
	"io"
	"time"
)

// Backend is one storage service. Bucket names given to a Backend are the
// backend's own names (after alias resolution by the Router).
type Backend interface {
	// Name is the configured backend name (for logs and metrics).
	Name() string
	// Ping checks the backend is reachable (used by /_/ready).
	Ping(ctx context.Context) error

	ListBuckets(ctx context.Context) ([]BucketInfo, error)
	CreateBucket(ctx context.Context, bucket string, opts CreateBucketOptions) error
	DeleteBucket(ctx context.Context, bucket string) error
	HeadBucket(ctx context.Context, bucket string) error

	ListObjects(ctx context.Context, bucket string, opts ListOptions) (*ListResult, error)
	// GetObject opens an object (or a byte range of it). Conditions are
	// evaluated by the backend: it returns ErrNotModified or
	// ErrPreconditionFailed as S3 does. The caller closes Object.Body.
	GetObject(ctx context.Context, bucket, key string, opts GetOptions) (*Object, error)
	HeadObject(ctx context.Context, bucket, key string, opts GetOptions) (*ObjectInfo, error)
	// PutObject stores body (exactly size bytes; size -1 = unknown). If body
	// returns an error before EOF, nothing is stored.
	PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64, opts PutOptions) (*PutResult, error)
	// DeleteObject is S3's DeleteObject. Without opts.VersionID it removes
	// key in an unversioned bucket (a missing key is not an error) and
	// adds a delete marker in a versioned one (see versioning.go); with a
	// VersionID it removes that version for good (object lock permitting).
	DeleteObject(ctx context.Context, bucket, key string, opts DeleteOptions) (*DeleteResult, error)
	CopyObject(ctx context.Context, src, dst ObjectRef, opts CopyOptions) (*CopyResult, error)

	CreateMultipartUpload(ctx context.Context, bucket, key string, opts PutOptions) (uploadID string, err error)
	UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, body io.Reader, size int64, opts PartOptions) (*PartResult, error)
	UploadPartCopy(ctx context.Context, src ObjectRef, bucket, key, uploadID string, partNumber int, opts CopyPartOptions) (*CopyResult, error)
	CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletedPart) (*PutResult, error)
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error
	ListParts(ctx context.Context, bucket, key, uploadID string, opts ListPartsOptions) (*ListPartsResult, error)
	ListMultipartUploads(ctx context.Context, bucket string, opts ListUploadsOptions) (*ListUploadsResult, error)

	Versioning
	ObjectLock
}

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name    string
	Created time.Time
}

// ListOptions are the ListObjects (V1 and V2) parameters, already decoded.
// Marker is V1's marker, or V2's continuation token / start-after (the S3
// API resolves V2 to "the key to list after").
type ListOptions struct {
	Prefix    string
	Delimiter string
	Marker    string // list keys strictly after this one
	MaxKeys   int    // 0..1000; 0 means return none (but report truncation)
	// Token is the NextToken of the page that ended at Marker, when the
	// backend gave one: it resumes the listing there (Marker stays its
	// position; backends without tokens ignore it).
	Token string
}

// ListResult is one page of a listing, in key order. Objects and
// CommonPrefixes are each sorted; together they cover the page in order.
// An object holds what an S3 listing reports of it (key, size, ETag,
// modification time, storage class), no content type or metadata.
type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextMarker is the last key or common prefix returned when truncated.
	NextMarker string
	// NextToken is the backend's own cursor for the next page ("" for
	// none): an S3 backend's continuation token, which resumes a listing
	// faster than a start-after key.
	NextToken string
}

// ObjectRef names an object. VersionID (copy sources only) selects a
// version; "" is the current one.
type ObjectRef struct {
	Bucket    string
	Key       string
	VersionID string
}

// ObjectInfo is an object's metadata.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string // quoted, as S3 sends it: "\"abc...\""
	LastModified time.Time
	ContentType  string
	// UserMetadata holds x-amz-meta-* values, keys lower-case without the prefix.
	UserMetadata map[string]string
	// Headers holds other stored headers returned on GET/HEAD
	// (Content-Encoding, Content-Disposition, Content-Language, Cache-Control, Expires).
	Headers      map[string]string
	StorageClass string

	// VersionID is the version's id: "" in a bucket that never had
	// versioning, "null" for the null version of a versioned one.
	VersionID string
	// IsLatest and DeleteMarker are set in version listings (and
	// DeleteMarker on the NoSuchKey / MethodNotAllowed of a marker).
	IsLatest     bool
	DeleteMarker bool
	// Lock is the version's object lock state (zero: none).
	Lock LockState
}

// Range is a byte range request. Start -1 means a suffix of Length bytes;
// End -1 means to the end of the object.
type Range struct {
	Start, End int64
}

// Conditions are the conditional request headers of GET/HEAD.
type Conditions struct {
	IfMatch           string
	IfNoneMatch       string
	IfModifiedSince   time.Time
	IfUnmodifiedSince time.Time
}

// GetOptions parameterise GetObject and HeadObject.
type GetOptions struct {
	Range      *Range
	Conditions Conditions
	PartNumber int
	// VersionID selects a version ("" = the current one).
	VersionID string
}

// Object is an open object.
type Object struct {
	Info ObjectInfo
	Body io.ReadCloser
	// ContentLength is the number of bytes Body yields.
	ContentLength int64
	// ContentRange is set ("bytes a-b/total") when a Range was served.
	ContentRange string
}

// PutOptions carry what is stored with an object.
type PutOptions struct {
	ContentType  string
	UserMetadata map[string]string
	Headers      map[string]string
	// ContentMD5 is the base64 Content-MD5 header, when the client sent one.
	ContentMD5 string
	// IfMatch / IfNoneMatch make the put conditional (S3 conditional writes).
	IfMatch     string
	IfNoneMatch string
	// Lock is the object lock state asked for with the x-amz-object-lock-*
	// headers (zero: none asked; the bucket's default retention applies).
	Lock LockState
}

// PutResult is the outcome of a write.
type PutResult struct {
	ETag string // quoted
	// VersionID is the new version's id ("" in an unversioned bucket,
	// "null" in a suspended one).
	VersionID string
}

// CopyOptions parameterise CopyObject.
type CopyOptions struct {
	// ReplaceMetadata is MetadataDirective=REPLACE: Put replaces the source's
	// metadata; otherwise the source's is copied.
	ReplaceMetadata bool
	Put             PutOptions
	Conditions      Conditions // x-amz-copy-source-if-*
}

// CopyResult is the outcome of a copy.
type CopyResult struct {
	ETag         string // quoted
	LastModified time.Time
	// VersionID is the new version's id; SourceVersionID the version
	// copied ("" when the source bucket is unversioned).
	VersionID       string
	SourceVersionID string
}

// PartOptions parameterise UploadPart.
type PartOptions struct {
	ContentMD5 string
}

// PartResult is the outcome of UploadPart.
type PartResult struct {
	ETag string // quoted
}

// CopyPartOptions parameterise UploadPartCopy.
type CopyPartOptions struct {
	Range      *Range // x-amz-copy-source-range, inclusive bytes
	Conditions Conditions
}

// CompletedPart names a part in CompleteMultipartUpload.
type CompletedPart struct {
	PartNumber int
	ETag       string
}

// ListPartsOptions parameterise ListParts.
type ListPartsOptions struct {
	PartNumberMarker int
	MaxParts         int
}

// PartInfo describes an uploaded part.
type PartInfo struct {
	PartNumber   int
	ETag         string
	Size         int64
	LastModified time.Time
}

// ListPartsResult is a page of parts.
type ListPartsResult struct {
	Parts                []PartInfo
	IsTruncated          bool
	NextPartNumberMarker int
}

// ListUploadsOptions parameterise ListMultipartUploads.
type ListUploadsOptions struct {
	Prefix         string
	Delimiter      string
	KeyMarker      string
	UploadIDMarker string
	MaxUploads     int
}

// UploadInfo describes an in-progress multipart upload.
type UploadInfo struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// ListUploadsResult is a page of uploads.
type ListUploadsResult struct {
	Uploads            []UploadInfo
	CommonPrefixes     []string
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}
