package fleetstatus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// Store is what the fleet status needs from the sync bucket.
type Store interface {
	// Get returns an object's bytes (ErrNotFound when absent).
	Get(ctx context.Context, key string) ([]byte, error)
	// Put writes an object unconditionally.
	Put(ctx context.Context, key string, body []byte) error
	// List returns every object under prefix, in key order.
	List(ctx context.Context, prefix string) ([]Entry, error)
	// Delete removes an object; a missing one is not an error.
	Delete(ctx context.Context, key string) error
	// Current describes the config DB in the bucket (the zero BucketDB
	// when there is none yet).
	Current(ctx context.Context) (BucketDB, error)
}

// BucketDB is the config DB in the sync bucket.
type BucketDB struct {
	Generation uint64
	ETag       string
	// Modified is the object's last modification (the bucket's clock);
	// zero when unknown.
	Modified time.Time
}

// Entry is one listed object.
type Entry struct {
	Key          string
	LastModified time.Time
}

// ObjectStore is the part of the sync bucket's client (an
// s3backend.Backend) the S3 Store uses.
type ObjectStore interface {
	GetObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.Object, error)
	PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64, opts storage.PutOptions) (*storage.PutResult, error)
	DeleteObject(ctx context.Context, bucket, key string, opts storage.DeleteOptions) (*storage.DeleteResult, error)
	ListObjects(ctx context.Context, bucket string, opts storage.ListOptions) (*storage.ListResult, error)
}

// maxObject bounds a status object read (they are a few hundred bytes).
const maxObject = 64 << 10

// headerBytes is read from the config DB to learn its generation: more
// than its largest clear header (configdb.MinHeaderLen, the
// min_reader_schema field and a 64-byte writer node id).
const headerBytes = 512

type s3Store struct {
	obj       ObjectStore
	bucket    string
	configKey string
}

var _ Store = (*s3Store)(nil)

// NewS3Store returns the Store on the sync bucket named bucket, whose
// config DB object is configKey.
func NewS3Store(obj ObjectStore, bucket, configKey string) Store {
	return &s3Store{obj: obj, bucket: bucket, configKey: configKey}
}

func (s *s3Store) Get(ctx context.Context, key string) ([]byte, error) {
	o, err := s.obj.GetObject(ctx, s.bucket, key, storage.GetOptions{})
	if errors.Is(err, s3err.ErrNoSuchKey) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer o.Body.Close()
	b, err := io.ReadAll(io.LimitReader(o.Body, maxObject+1))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if len(b) > maxObject {
		return nil, fmt.Errorf("get %s: more than %d bytes", key, maxObject)
	}
	return b, nil
}

func (s *s3Store) Put(ctx context.Context, key string, body []byte) error {
	_, err := s.obj.PutObject(ctx, s.bucket, key, bytes.NewReader(body), int64(len(body)),
		storage.PutOptions{ContentType: "application/json"})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (s *s3Store) List(ctx context.Context, prefix string) ([]Entry, error) {
	var out []Entry
	opts := storage.ListOptions{Prefix: prefix, MaxKeys: 1000}
	for {
		res, err := s.obj.ListObjects(ctx, s.bucket, opts)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, o := range res.Objects {
			out = append(out, Entry{Key: o.Key, LastModified: o.LastModified})
		}
		if !res.IsTruncated || res.NextMarker == "" {
			return out, nil
		}
		opts.Marker, opts.Token = res.NextMarker, res.NextToken
	}
}

func (s *s3Store) Delete(ctx context.Context, key string) error {
	_, err := s.obj.DeleteObject(ctx, s.bucket, key, storage.DeleteOptions{})
	if err != nil && !errors.Is(err, s3err.ErrNoSuchKey) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// Current reads the clear header of the config DB (its first bytes: no
// secret is needed and the DB is not downloaded whole).
func (s *s3Store) Current(ctx context.Context) (BucketDB, error) {
	o, err := s.obj.GetObject(ctx, s.bucket, s.configKey, storage.GetOptions{Range: &storage.Range{Start: 0, End: headerBytes - 1}})
	if errors.Is(err, s3err.ErrNoSuchKey) {
		return BucketDB{}, nil
	}
	if err != nil {
		return BucketDB{}, fmt.Errorf("read config db header: %w", err)
	}
	defer o.Body.Close()
	b, err := io.ReadAll(io.LimitReader(o.Body, headerBytes))
	if err != nil {
		return BucketDB{}, fmt.Errorf("read config db header: %w", err)
	}
	h, err := configdb.ReadHeader(b)
	if err != nil {
		return BucketDB{}, fmt.Errorf("read config db header: %w", err)
	}
	return BucketDB{Generation: h.Generation, ETag: strings.Trim(o.Info.ETag, `"`), Modified: o.Info.LastModified}, nil
}
