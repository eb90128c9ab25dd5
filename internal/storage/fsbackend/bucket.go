package fsbackend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// bucketMeta is the content of a bucket's metadata file.
type bucketMeta struct {
	Created    time.Time                `json:"created"`
	Versioning storage.VersioningStatus `json:"versioning,omitempty"`
	ObjectLock bool                     `json:"objectLock,omitempty"`
	// LockRule is the default retention of new versions (ObjectLock only).
	LockRule *storage.DefaultRetention `json:"lockRule,omitempty"`
}

// clone returns a deep copy of m.
func (m *bucketMeta) clone() *bucketMeta {
	c := *m
	if m.LockRule != nil {
		r := *m.LockRule
		c.LockRule = &r
	}
	return &c
}

// meta validates a bucket name and returns a copy of the bucket's metadata
// (NoSuchBucket when there is no such bucket), taking the bucket's read
// lock.
func (b *Backend) meta(bucket string) (*bucketMeta, error) {
	if err := validateBucket(bucket); err != nil {
		return nil, err
	}
	bl := b.bucketLock(bucket)
	bl.RLock()
	defer bl.RUnlock()
	return b.metaLocked(bucket)
}

// metaLocked is meta for a caller holding the bucket's lock (either
// side). The metadata is cached: entries are added only under the bucket
// lock and replaced or dropped only under its write side (metadata
// writes, bucket creation and deletion), so the cache is never stale.
func (b *Backend) metaLocked(bucket string) (*bucketMeta, error) {
	b.metaMu.Lock()
	m, ok := b.metaCache[bucket]
	b.metaMu.Unlock()
	if ok {
		return m.clone(), nil
	}
	m, err := b.readBucketMeta(bucket)
	if err != nil {
		return nil, err
	}
	b.setCachedMeta(bucket, m.clone())
	return m, nil
}

// setCachedMeta caches (nil: forgets) a bucket's metadata.
func (b *Backend) setCachedMeta(bucket string, m *bucketMeta) {
	b.metaMu.Lock()
	defer b.metaMu.Unlock()
	if m == nil {
		delete(b.metaCache, bucket)
		return
	}
	b.metaCache[bucket] = m
}

// readBucketMeta reads a bucket's metadata file: NoSuchBucket when the
// bucket does not exist, a zero state when the file is missing.
func (b *Backend) readBucketMeta(bucket string) (*bucketMeta, error) {
	js, err := b.root.ReadFile(path.Join(bucket, bucketMetaName))
	if err != nil {
		if !isNotExist(err) {
			return nil, fmt.Errorf("read bucket metadata: %w", err)
		}
		if err := b.bucketExists(bucket); err != nil {
			return nil, err
		}
		return &bucketMeta{}, nil
	}
	m := new(bucketMeta)
	if err := json.Unmarshal(js, m); err != nil {
		return nil, fmt.Errorf("decode bucket metadata: %w", err)
	}
	return m, nil
}

// writeBucketMeta replaces a bucket's metadata file atomically (staged,
// then renamed). The caller holds the bucket's write lock.
func (b *Backend) writeBucketMeta(bucket string, m *bucketMeta) error {
	js, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode bucket metadata: %w", err)
	}
	tmp := tempName()
	if err := b.writeSynced(tmp, js); err != nil {
		_ = b.root.Remove(tmp)
		return err
	}
	if err := b.renameTo(tmp, path.Join(bucket, bucketMetaName)); err != nil {
		_ = b.root.Remove(tmp)
		return fmt.Errorf("replace bucket metadata: %w", err)
	}
	b.setCachedMeta(bucket, m.clone())
	if err := b.syncDir(bucket); err != nil {
		return fmt.Errorf("sync bucket directory: %w", err)
	}
	return nil
}

// CreateBucket creates an empty bucket. The directory appears atomically
// with its metadata file (it is built in the staging area and renamed).
func (b *Backend) CreateBucket(ctx context.Context, bucket string, opts storage.CreateBucketOptions) error {
	if err := b.writable(); err != nil {
		return err
	}
	if err := validateBucket(bucket); err != nil {
		return err
	}
	bl := b.bucketLock(bucket)
	bl.Lock()
	defer bl.Unlock()
	b.setCachedMeta(bucket, nil)
	if _, err := b.root.Lstat(bucket); err == nil {
		return s3err.ErrBucketAlreadyOwnedByYou.WithResource(bucket)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat bucket: %w", err)
	}
	bm := bucketMeta{Created: b.now().UTC()}
	if opts.ObjectLockEnabled {
		bm.Versioning, bm.ObjectLock = storage.VersioningEnabled, true
	}
	js, err := json.Marshal(bm)
	if err != nil {
		return fmt.Errorf("encode bucket metadata: %w", err)
	}
	tmp := tempName()
	if err := b.root.Mkdir(tmp, dirPerm); err != nil {
		return fmt.Errorf("create bucket directory: %w", err)
	}
	if err := b.writeSynced(path.Join(tmp, bucketMetaName), js); err != nil {
		_ = b.root.RemoveAll(tmp)
		return err
	}
	if err := b.syncDir(tmp); err != nil {
		_ = b.root.RemoveAll(tmp)
		return fmt.Errorf("sync bucket directory: %w", err)
	}
	if err := b.root.Rename(tmp, bucket); err != nil {
		_ = b.root.RemoveAll(tmp)
		if errors.Is(err, fs.ErrExist) {
			return s3err.ErrBucketAlreadyOwnedByYou.WithResource(bucket)
		}
		return fmt.Errorf("create bucket: %w", err)
	}
	if err := b.syncDir("."); err != nil {
		return fmt.Errorf("sync storage root: %w", err)
	}
	return nil
}

// writeSynced writes a new file and fsyncs it.
func (b *Backend) writeSynced(name string, data []byte) error {
	f, err := b.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return fmt.Errorf("create %s: %w", path.Base(name), err)
	}
	_, err = f.Write(data)
	if err == nil && !b.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path.Base(name), err)
	}
	return nil
}

// DeleteBucket removes an empty bucket: BucketNotEmpty while it holds an
// object, a non-current version or a delete marker. In-progress multipart
// uploads do not count: they are aborted with the bucket, as S3 does.
func (b *Backend) DeleteBucket(ctx context.Context, bucket string) error {
	if err := b.writable(); err != nil {
		return err
	}
	if err := validateBucket(bucket); err != nil {
		return err
	}
	bl := b.bucketLock(bucket)
	bl.Lock()
	defer bl.Unlock()
	if err := b.bucketExists(bucket); err != nil {
		return err
	}
	has, err := hasObjects(b.root, bucket, 0, true)
	if err != nil {
		return err
	}
	if has {
		return s3err.ErrBucketNotEmpty.WithResource(bucket)
	}
	b.setCachedMeta(bucket, nil)
	if err := b.moveAside(bucket); err != nil {
		return fmt.Errorf("delete bucket: %w", err)
	}
	if err := b.moveAside(path.Join(multipartDir, bucket)); err != nil && !isNotExist(err) {
		return fmt.Errorf("abort bucket uploads: %w", err)
	}
	b.dirs.forgetBucket(bucket)
	return nil
}

// HeadBucket returns NoSuchBucket unless the bucket exists.
func (b *Backend) HeadBucket(ctx context.Context, bucket string) error {
	if err := validateBucket(bucket); err != nil {
		return err
	}
	return b.bucketExists(bucket)
}

// ListBuckets returns every bucket, sorted by name, with its creation time.
func (b *Backend) ListBuckets(ctx context.Context) ([]storage.BucketInfo, error) {
	names, err := b.readNames(".")
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	out := make([]storage.BucketInfo, 0, len(names))
	for _, name := range names {
		if validateBucket(name) != nil {
			continue // the staging and multipart directories, foreign files
		}
		fi, err := b.root.Stat(name)
		if err != nil || !fi.IsDir() {
			continue // deleted meanwhile, or not a bucket
		}
		created := fi.ModTime().UTC()
		if js, err := b.root.ReadFile(path.Join(name, bucketMetaName)); err == nil {
			var m bucketMeta
			if json.Unmarshal(js, &m) == nil && !m.Created.IsZero() {
				created = m.Created
			}
		}
		out = append(out, storage.BucketInfo{Name: name, Created: created})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// readNames returns the names in a directory (nil when it does not exist).
func (b *Backend) readNames(dir string) ([]string, error) {
	return readNames(b.root, dir)
}

// readNames returns the names in directory rel of base (nil when it does
// not exist).
func readNames(base *os.Root, rel string) ([]string, error) {
	d, err := base.Open(rel)
	if err != nil {
		if isNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		if isNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	return names, nil
}

// maxHeldDirs bounds the directory handles one walk keeps open; deeper
// directories are opened by path from the deepest held one.
const maxHeldDirs = 64

// hasObjects reports whether the tree at rel (relative to base) holds at
// least one object (with versions, also a versions directory: non-current
// versions or delete markers). It reads directories in small batches and
// stops at the first find; depth counts the handles already held by the
// caller.
func hasObjects(base *os.Root, rel string, depth int, versions bool) (bool, error) {
	found, subdirs, err := scanDir(base, rel, versions)
	if err != nil || found || len(subdirs) == 0 {
		return found, err
	}
	r, relBase := base, rel
	if depth < maxHeldDirs {
		child, err := base.OpenRoot(rel)
		if err != nil {
			if isNotExist(err) {
				return false, nil
			}
			return false, err
		}
		defer child.Close()
		r, relBase = child, "."
	}
	for _, s := range subdirs {
		has, err := hasObjects(r, path.Join(relBase, s), depth+1, versions)
		if err != nil || has {
			return has, err
		}
	}
	return false, nil
}

// scanDir reads a directory until it finds an object (or, with versions, a
// versions directory); otherwise it returns the piece directories in it.
func scanDir(base *os.Root, rel string, versions bool) (found bool, subdirs []string, err error) {
	d, err := base.Open(rel)
	if err != nil {
		if isNotExist(err) {
			return false, nil, nil
		}
		return false, nil, err
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(64)
		for _, name := range names {
			_, kind, ok := parseName(name)
			switch {
			case !ok:
			case kind == kindObject:
				return true, nil, nil
			case kind == kindVersions:
				if !versions {
					continue
				}
				// An empty versions directory (a crash before its
				// removal) holds nothing.
				vs, err := versionNames(base, path.Join(rel, name))
				if err != nil {
					return false, nil, err
				}
				if len(vs) > 0 {
					return true, nil, nil
				}
			default:
				subdirs = append(subdirs, name)
			}
		}
		switch {
		case err == io.EOF || (err == nil && len(names) == 0):
			return false, subdirs, nil
		case err != nil && isNotExist(err):
			return false, nil, nil
		case err != nil:
			return false, nil, err
		}
	}
}
