// Package fsbackend stores buckets and objects in a directory on disk: the
// embedded default backend of dgp (root <data dir>/objects).
//
// Every write goes to a staging directory inside the root, is fsynced and
// then renamed into place, so readers see an object whole or not at all.
// Object data and metadata live in one file (data followed by a metadata
// trailer), so one rename commits both. A root must be used by one process
// at a time: conditional writes are serialised with in-process locks.
// Buckets can be versioned and object-locked as in S3; the latest version
// of a key stays at its plain object path (see versions.go). The layout is
// described in docs/storage.md.
package fsbackend

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

var _ storage.Backend = (*Backend)(nil)

const (
	bufSize       = 128 << 10
	keyStripes    = 256
	bucketStripes = 64
	uploadStripes = 64
	dirPerm       = 0o755
	filePerm      = 0o644
	// commitAttempts bounds the retries of a rename that lost its parent
	// directory to a concurrent delete's clean-up.
	commitAttempts = 16
)

// Backend is a storage.Backend on a local directory. It is safe for
// concurrent use. Close releases the root directory handle.
type Backend struct {
	name     string
	rootPath string
	root     *os.Root
	now      func() time.Time
	readOnly bool // OpenReadOnly: every change returns ErrReadOnly

	bufs sync.Pool // *[]byte of bufSize

	// keyLocks serialise the check-and-rename of writes and deletes of one
	// key (conditional writes are compare-and-swap).
	keyLocks [keyStripes]sync.Mutex
	// bucketLocks: object commits hold the read side, bucket creation and
	// deletion the write side, so no object lands in a bucket being deleted.
	bucketLocks [bucketStripes]sync.RWMutex
	// uploadLocks serialise Complete and Abort of one upload.
	uploadLocks [uploadStripes]sync.Mutex
	// Lock order: bucket lock (read side), then key lock; an upload lock
	// is taken before both.

	// metaCache holds bucket metadata (see metaLocked); metaMu guards
	// the map and is taken last, after any other lock.
	metaMu    sync.Mutex
	metaCache map[string]*bucketMeta

	// lastSeq is the last version order number handed out (nextSeq).
	lastSeq atomic.Uint64

	// dirs caches the sorted entries of large directories for listings
	// (listcache.go).
	dirs *dirCache

	// statWorkers is how many goroutines read a listing page's objects
	// (liststat.go): one per processor, up to maxStatWorkers.
	statWorkers int
	// pace tells whether the last listing batch read its objects from
	// disk, which gets the next one more workers (liststat.go).
	pace *readPace

	// noSync skips fsync (tests whose subject is not durability).
	noSync bool
}

// New opens (creating it if needed) a filesystem backend rooted at root.
// now is the clock for Last-Modified, bucket creation and upload initiation
// times; nil means time.Now. Leftovers of interrupted writes in the staging
// directory are removed.
func New(name, root string, now func() time.Time) (*Backend, error) {
	return open(name, root, now, false)
}

// ErrReadOnly is returned by every change asked of a Backend opened by
// OpenReadOnly.
var ErrReadOnly = errors.New("fsbackend: opened read-only")

// OpenReadOnly opens the existing backend rooted at root for reading and
// listing only, for tools that run beside a server using the same
// directory (dgp iam plan --lifecycle-preview): it neither cleans the
// staging directory (where the server's uploads in flight are), nor
// creates anything, nor writes directory indexes; every change returns
// ErrReadOnly.
func OpenReadOnly(name, root string, now func() time.Time) (*Backend, error) {
	return open(name, root, now, true)
}

func open(name, root string, now func() time.Time, readOnly bool) (*Backend, error) {
	if name == "" {
		return nil, errors.New("fsbackend: empty backend name")
	}
	if root == "" {
		return nil, errors.New("fsbackend: empty root directory")
	}
	if now == nil {
		now = time.Now
	}
	if !readOnly {
		if err := os.MkdirAll(root, dirPerm); err != nil {
			return nil, fmt.Errorf("create storage root: %w", err)
		}
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open storage root: %w", err)
	}
	b := &Backend{name: name, rootPath: root, root: r, now: now, metaCache: map[string]*bucketMeta{}, dirs: newDirCache(cacheBudget), readOnly: readOnly,
		statWorkers: min(runtime.GOMAXPROCS(0), maxStatWorkers), pace: newReadPace()}
	b.bufs.New = func() any {
		buf := make([]byte, bufSize)
		return &buf
	}
	if readOnly {
		return b, nil
	}
	if err := r.RemoveAll(stagingDir); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("clean staging directory: %w", err)
	}
	for _, d := range []string{stagingDir, multipartDir, indexDir} {
		if err := r.MkdirAll(d, dirPerm); err != nil {
			_ = r.Close()
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	ixRoot, err := r.OpenRoot(indexDir)
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("open %s: %w", indexDir, err)
	}
	b.dirs.ix = newIndexStore(ixRoot, b.dirs, time.Now, time.After)
	b.dirs.ix.start()
	return b, nil
}

// writable refuses changes to a backend opened read-only.
func (b *Backend) writable() error {
	if b.readOnly {
		return ErrReadOnly
	}
	return nil
}

// Close writes the directory indexes still pending, stops their writer
// and releases the root directory. The Backend must not be used after.
func (b *Backend) Close() error {
	return errors.Join(b.closeIndex(), b.root.Close())
}

// Name returns the configured backend name.
func (b *Backend) Name() string { return b.name }

// Root returns the root directory path.
func (b *Backend) Root() string { return b.rootPath }

// Ping checks that the root directory is still in place and writable.
func (b *Backend) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := os.Stat(b.rootPath); err != nil {
		return fmt.Errorf("stat storage root: %w", err)
	}
	st, err := b.stage()
	if err != nil {
		return err
	}
	st.discard()
	return nil
}

func stripe(n uint32, parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum32() % n
}

func (b *Backend) keyLock(bucket, key string) *sync.Mutex {
	return &b.keyLocks[stripe(keyStripes, bucket, key)]
}

func (b *Backend) bucketLock(bucket string) *sync.RWMutex {
	return &b.bucketLocks[stripe(bucketStripes, bucket)]
}

func (b *Backend) uploadLock(uploadID string) *sync.Mutex {
	return &b.uploadLocks[stripe(uploadStripes, uploadID)]
}

// staged is a file being written in the staging directory.
type staged struct {
	root   *os.Root
	name   string // relative to the root
	f      *os.File
	noSync bool
}

func tempName() string {
	return path.Join(stagingDir, rand.Text())
}

// stage creates a new empty file in the staging directory.
func (b *Backend) stage() (*staged, error) {
	name := tempName()
	f, err := b.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return nil, fmt.Errorf("create staging file: %w", err)
	}
	return &staged{root: b.root, name: name, f: f, noSync: b.noSync}, nil
}

// finish flushes the file to disk and closes it.
func (s *staged) finish() error {
	if !s.noSync {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("sync staging file: %w", err)
		}
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("close staging file: %w", err)
	}
	s.f = nil
	return nil
}

// discard closes and removes the file; a no-op after committed.
func (s *staged) discard() {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	if s.name != "" {
		_ = s.root.Remove(s.name)
		s.name = ""
	}
}

// committed records that the file was renamed away.
func (s *staged) committed() { s.name = "" }

// syncDir fsyncs a directory so that a rename into it is durable.
func (b *Backend) syncDir(dir string) error {
	if b.noSync {
		return nil
	}
	d, err := b.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// bucketExists returns NoSuchBucket unless bucket is a directory.
func (b *Backend) bucketExists(bucket string) error {
	fi, err := b.root.Stat(bucket)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return s3err.ErrNoSuchBucket.WithResource(bucket)
		}
		return fmt.Errorf("stat bucket: %w", err)
	}
	if !fi.IsDir() {
		return s3err.ErrNoSuchBucket.WithResource(bucket)
	}
	return nil
}

// moveAside renames a directory into the staging area and removes it
// there, so it disappears from the namespace atomically.
func (b *Backend) moveAside(dir string) error {
	tmp := tempName()
	if err := b.root.Rename(dir, tmp); err != nil {
		return err
	}
	if err := b.root.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || isNotDir(err)
}
