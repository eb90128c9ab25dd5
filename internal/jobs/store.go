package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// Keys of the engine's objects in the sync bucket (or under the data
// directory): one state object per job and a queue of write markers per
// replication rule. Both under .deltaglider/, which is never replicated.
const (
	StatePrefix = ".deltaglider/jobs/state/"
	QueuePrefix = ".deltaglider/jobs/queue/"
)

// StateKey is the key of a job's state object.
func StateKey(kind, rule string) string { return StatePrefix + kind + "/" + rule + ".json" }

// QueueDir is the key prefix of a replication rule's write markers.
func QueueDir(rule string) string { return QueuePrefix + rule + "/" }

// Store is where the engine keeps the fleet's truth: lease.Store's reads
// and conditional writes (state objects are compare-and-swapped), plus the
// plain writes, listing and deletes of the write-marker queue.
type Store interface {
	lease.Store
	// Put writes an object unconditionally (a marker: its name is unique).
	Put(ctx context.Context, key string, body []byte) error
	// List returns up to max keys under prefix, in key order, strictly
	// after the key after ("" from the start).
	List(ctx context.Context, prefix, after string, max int) ([]string, error)
	// Delete removes an object; a missing one is not an error.
	Delete(ctx context.Context, key string) error
}

// ObjectStore is what the bucket store needs from the sync bucket's
// client (an s3backend.Backend).
type ObjectStore interface {
	configsync.ObjectStore
	ListObjects(ctx context.Context, bucket string, opts storage.ListOptions) (*storage.ListResult, error)
}

type bucketStore struct {
	lease.Store
	obj    ObjectStore
	bucket string
}

// NewBucketStore returns the Store on the sync bucket: the compare-and-swap
// writes through configsync.NewS3Bucket (as the leases), the queue through
// the client directly.
func NewBucketStore(obj ObjectStore, bucket string) Store {
	return &bucketStore{Store: lease.NewBucketStore(configsync.NewS3Bucket(obj, bucket)), obj: obj, bucket: bucket}
}

func (s *bucketStore) Put(ctx context.Context, key string, body []byte) error {
	_, err := s.obj.PutObject(ctx, s.bucket, key, bytes.NewReader(body), int64(len(body)),
		storage.PutOptions{ContentType: "application/json"})
	if err != nil {
		return fmt.Errorf("jobs store put %s: %w", key, err)
	}
	return nil
}

func (s *bucketStore) List(ctx context.Context, prefix, after string, max int) ([]string, error) {
	res, err := s.obj.ListObjects(ctx, s.bucket, storage.ListOptions{Prefix: prefix, Marker: after, MaxKeys: min(max, 1000)})
	if err != nil {
		return nil, fmt.Errorf("jobs store list %s: %w", prefix, err)
	}
	keys := make([]string, 0, len(res.Objects))
	for _, o := range res.Objects {
		keys = append(keys, o.Key)
	}
	return keys, nil
}

func (s *bucketStore) Delete(ctx context.Context, key string) error {
	_, err := s.obj.DeleteObject(ctx, s.bucket, key, storage.DeleteOptions{})
	if err != nil && !errors.Is(err, s3err.ErrNoSuchKey) {
		return fmt.Errorf("jobs store delete %s: %w", key, err)
	}
	return nil
}

// dirStore keeps the same objects under a local directory (no sync
// bucket): lease.DirStore's compare-and-swap for state objects, plain
// files for markers.
type dirStore struct {
	*lease.DirStore
	root string
}

// NewDirStore returns the Store under root (the data directory): one
// instance's truth only.
func NewDirStore(root string) (Store, error) {
	d, err := lease.NewDirStore(root)
	if err != nil {
		return nil, err
	}
	return &dirStore{DirStore: d, root: root}, nil
}

func (d *dirStore) path(key string) (string, error) {
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return "", fmt.Errorf("jobs store: bad key %q", key)
		}
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

func (d *dirStore) Put(_ context.Context, key string, body []byte) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("jobs store: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("jobs store: %w", err)
	}
	_, werr := f.Write(body)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), p)
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("jobs store put %s: %w", key, werr)
	}
	return nil
}

// List lists one directory level (queue markers live in one directory per
// rule); names starting with '.' (temporary files) and lock files are not
// objects.
func (d *dirStore) List(_ context.Context, prefix, after string, max int) ([]string, error) {
	dir := strings.TrimSuffix(prefix, "/")
	p, err := d.path(dir)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jobs store list %s: %w", prefix, err)
	}
	var keys []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".lock") {
			continue
		}
		k := dir + "/" + n
		if k > after && strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > max {
		keys = keys[:max]
	}
	return keys, nil
}

func (d *dirStore) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("jobs store delete %s: %w", key, err)
	}
	return nil
}
