package lease

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgp-proxy/dgp/internal/configsync"
)

// Store is what a Manager needs from where lease objects live: reads with
// the ETag and conditional writes. Implementations translate their
// answers once, at this boundary: ErrNotFound and ErrConflict (wrapped or
// not) for those outcomes, any other error for a failure. A lease is
// never deleted (a release is a conditional write), so that its token
// keeps rising across holders; S3 services differ on If-Match for
// DeleteObject (MinIO ignores it), so no delete is needed.
type Store interface {
	// Get returns the object and its ETag (ErrNotFound when absent).
	Get(ctx context.Context, key string) (body []byte, etag string, err error)
	// PutIfNoneMatch creates the object only when absent (If-None-Match: *);
	// ErrConflict when it exists.
	PutIfNoneMatch(ctx context.Context, key string, body []byte) (etag string, err error)
	// PutIfMatch replaces the object only when its ETag is etag (If-Match);
	// ErrConflict when it differs or the object is absent.
	PutIfMatch(ctx context.Context, key string, body []byte, etag string) (newETag string, err error)
}

// bucketStore adapts a configsync.Bucket (the sync bucket's client:
// configsync.NewS3Bucket over s3backend) to Store.
type bucketStore struct{ b configsync.Bucket }

// NewBucketStore returns the Store on the sync bucket b, in production
// configsync.NewS3Bucket(s3backend, bucket): the same client config sync
// uses. configsync's ErrNotFound and ErrPreconditionFailed become
// ErrNotFound and ErrConflict; other failures are returned wrapped (a
// *configsync.BucketError stays reachable with errors.As).
func NewBucketStore(b configsync.Bucket) Store { return bucketStore{b: b} }

// Get implements Store.
func (s bucketStore) Get(ctx context.Context, key string) ([]byte, string, error) {
	body, etag, err := s.b.Get(ctx, key, "")
	if err != nil {
		return nil, "", translate("get", key, err)
	}
	return body, etag, nil
}

// PutIfNoneMatch implements Store.
func (s bucketStore) PutIfNoneMatch(ctx context.Context, key string, body []byte) (string, error) {
	etag, err := s.b.Put(ctx, key, body, "", "*")
	if err != nil {
		return "", translate("create", key, err)
	}
	return etag, nil
}

// PutIfMatch implements Store.
func (s bucketStore) PutIfMatch(ctx context.Context, key string, body []byte, etag string) (string, error) {
	if etag == "" {
		return "", fmt.Errorf("%w: replace %s without an etag", ErrInvalid, key)
	}
	n, err := s.b.Put(ctx, key, body, etag, "")
	if err != nil {
		err = translate("replace", key, err)
		if errors.Is(err, ErrNotFound) { // If-Match on a missing object
			return "", fmt.Errorf("%w: %w", ErrConflict, err)
		}
		return "", err
	}
	return n, nil
}

func translate(op, key string, err error) error {
	switch {
	case errors.Is(err, configsync.ErrNotFound):
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	case errors.Is(err, configsync.ErrPreconditionFailed):
		return fmt.Errorf("%w: %s", ErrConflict, key)
	}
	return fmt.Errorf("lease store %s %s: %w", op, key, err)
}
