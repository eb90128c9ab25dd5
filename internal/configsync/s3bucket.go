package configsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// MaxObjectSize bounds the config DB read from the bucket (256 MiB); a
// larger object is refused without reading it whole.
const MaxObjectSize = 256 << 20

// ObjectStore is the part of storage.Backend the S3 bucket adapter uses
// (s3backend.Backend implements it).
type ObjectStore interface {
	GetObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.Object, error)
	HeadObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.ObjectInfo, error)
	PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64, opts storage.PutOptions) (*storage.PutResult, error)
	DeleteObject(ctx context.Context, bucket, key string, opts storage.DeleteOptions) (*storage.DeleteResult, error)
}

// ObjectGetter is the part of an ObjectStore that reads objects.
type ObjectGetter interface {
	GetObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.Object, error)
}

// s3Bucket adapts an ObjectStore bucket to Bucket.
type s3Bucket struct {
	store  ObjectStore
	get    ObjectGetter // nil: store
	bucket string
	max    int64
}

var _ Bucket = (*s3Bucket)(nil)

// NewS3Bucket returns the Bucket for the named bucket of store (an
// s3backend.Backend in production). ETags are returned without quotes.
// S3 NotModified, NoSuchKey and PreconditionFailed become ErrNotModified,
// ErrNotFound and ErrPreconditionFailed; other S3 failures become
// *BucketError values carrying the status and code (a network failure is
// a 503). Objects larger than MaxObjectSize are refused.
func NewS3Bucket(store ObjectStore, bucket string) Bucket {
	return &s3Bucket{store: store, bucket: bucket, max: MaxObjectSize}
}

// NewS3BucketThinGet is NewS3Bucket reading the config object with get
// first: an s3backend.Backend whose fast path sends a conditional GET as
// one signed HTTP request, without the SDK's middleware stack (the pull is
// what every reader runs on every IAM change). A GET that get fails to
// answer (a network failure, a 5xx, throttling) is sent again through
// store, whose SDK retryer handles it; answers (304, 404, 403, ...) are
// final. Puts, heads and deletes go through store.
func NewS3BucketThinGet(store ObjectStore, get ObjectGetter, bucket string) Bucket {
	return &s3Bucket{store: store, get: get, bucket: bucket, max: MaxObjectSize}
}

// Get implements Bucket.
func (b *s3Bucket) Get(ctx context.Context, key, ifNoneMatch string) ([]byte, string, error) {
	return b.GetInto(ctx, key, ifNoneMatch, nil)
}

var _ BucketGetInto = (*s3Bucket)(nil)

// GetInto implements BucketGetInto.
func (b *s3Bucket) GetInto(ctx context.Context, key, ifNoneMatch string, buf []byte) ([]byte, string, error) {
	var opts storage.GetOptions
	if ifNoneMatch != "" {
		opts.Conditions.IfNoneMatch = quoteETag(ifNoneMatch)
	}
	var obj *storage.Object
	var err error
	if b.get != nil {
		obj, err = b.get.GetObject(ctx, b.bucket, key, opts)
		if err != nil && retryable(err) && ctx.Err() == nil {
			obj, err = b.store.GetObject(ctx, b.bucket, key, opts)
		}
	} else {
		obj, err = b.store.GetObject(ctx, b.bucket, key, opts)
	}
	if err != nil {
		return nil, "", translate("get", err)
	}
	defer obj.Body.Close()
	if obj.ContentLength > b.max {
		return nil, "", tooLarge(fmt.Errorf("object is %d bytes, more than the %d allowed", obj.ContentLength, b.max))
	}
	if n := obj.ContentLength; n >= 0 && int64(cap(buf)) <= n {
		// Room for the body and the read that finds its end, and for the
		// next DBs, a little larger, to fit as well.
		buf = make([]byte, 0, n+n/8+512)
	}
	body, err := readAll(obj.Body, buf[:0], b.max)
	if err != nil {
		return nil, "", err
	}
	return body, normETag(obj.Info.ETag), nil
}

// readAll appends r's bytes to b until EOF, refusing more than max.
func readAll(r io.Reader, b []byte, max int64) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > max {
			return nil, tooLarge(fmt.Errorf("object is more than the %d bytes allowed", max))
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, translate("get", err)
		}
	}
}

// Put implements Bucket.
func (b *s3Bucket) Put(ctx context.Context, key string, body []byte, ifMatch, ifNoneMatch string) (string, error) {
	opts := storage.PutOptions{ContentType: "application/octet-stream", IfNoneMatch: ifNoneMatch}
	if ifMatch != "" {
		opts.IfMatch = quoteETag(ifMatch)
	}
	res, err := b.store.PutObject(ctx, b.bucket, key, bytes.NewReader(body), int64(len(body)), opts)
	if err != nil {
		return "", translate("put", err)
	}
	return normETag(res.ETag), nil
}

// Head implements Bucket.
func (b *s3Bucket) Head(ctx context.Context, key string) (string, error) {
	info, err := b.store.HeadObject(ctx, b.bucket, key, storage.GetOptions{})
	if err != nil {
		return "", translate("head", err)
	}
	return normETag(info.ETag), nil
}

// Delete implements Bucket.
func (b *s3Bucket) Delete(ctx context.Context, key string) error {
	if _, err := b.store.DeleteObject(ctx, b.bucket, key, storage.DeleteOptions{}); err != nil {
		return translate("delete", err)
	}
	return nil
}

// mapS3Error turns a storage error into the Bucket outcomes, by S3 code
// and status (never message text).
func translate(op string, err error) error {
	switch {
	case errors.Is(err, s3err.ErrNotModified):
		return fmt.Errorf("%w: %w", ErrNotModified, err)
	case errors.Is(err, s3err.ErrNoSuchKey):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, s3err.ErrPreconditionFailed):
		return fmt.Errorf("%w: %w", ErrPreconditionFailed, err)
	}
	be := &BucketError{Op: op, Err: err}
	var se *s3err.Error
	if errors.As(err, &se) {
		be.Status, be.Code = se.Status, se.Code
	}
	return be
}

// retryable reports whether a failed GET is worth sending again through
// the SDK path: no answer at all (a network failure), a 5xx or
// throttling. An S3 answer saying what the object is (304, 404, 412, 403,
// 400) is final.
func retryable(err error) bool {
	var se *s3err.Error
	if !errors.As(err, &se) {
		return true
	}
	return se.Status >= 500 || se.Status == 429 || se.Code == "SlowDown" || se.Code == "RequestTimeTooSkewed"
}

// tooLarge is the failure of a Get whose object exceeds MaxObjectSize: a
// refusal of this adapter, not an answer of the bucket (no status).
func tooLarge(err error) error {
	return &BucketError{Op: "get", Code: "EntityTooLarge", Err: err}
}

// quoteETag returns etag in quotes, as S3 conditions expect it.
func quoteETag(etag string) string {
	if etag == "*" || (len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"') {
		return etag
	}
	return `"` + etag + `"`
}
