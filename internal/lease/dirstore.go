package lease

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// DirStore is a Store on a local directory, for an instance without a
// sync bucket: the same compare-and-swap semantics as the bucket. The
// ETag is a hash of the content (every lease write carries a fresh nonce,
// so two writes never share one). Create is exclusive through link(2) of
// a fully written temporary file (EEXIST: ErrConflict); a replace
// compares the ETag and renames a temporary file over the object while
// holding the store's mutex and an flock on the key's lock file, so that
// DirStores of several processes on one directory also take turns.
type DirStore struct {
	root string
	// mu makes the compare-and-rename of PutIfMatch one step within the
	// process (the flock does it across processes); a leaf lock.
	mu sync.Mutex
}

var _ Store = (*DirStore)(nil)

// NewDirStore returns the Store on root (created if missing), e.g.
// <data dir>/leases: key K lives at root/K.
func NewDirStore(root string) (*DirStore, error) {
	if root == "" {
		return nil, fmt.Errorf("%w: empty lease directory", ErrInvalid)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("lease directory: %w", err)
	}
	return &DirStore{root: root}, nil
}

// path maps a key to its file, refusing keys that leave the root.
func (d *DirStore) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return "", fmt.Errorf("%w: key %q", ErrInvalid, key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return "", fmt.Errorf("%w: key %q", ErrInvalid, key)
		}
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

func contentETag(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:16])
}

// Get implements Store.
func (d *DirStore) Get(_ context.Context, key string) ([]byte, string, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, "", err
	}
	body, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, "", fmt.Errorf("lease store get %s: %w", key, err)
	}
	return body, contentETag(body), nil
}

// PutIfNoneMatch implements Store.
func (d *DirStore) PutIfNoneMatch(_ context.Context, key string, body []byte) (string, error) {
	p, err := d.path(key)
	if err != nil {
		return "", err
	}
	unlock, err := d.lock(p)
	if err != nil {
		return "", err
	}
	defer unlock()
	tmp, err := writeTemp(p, body)
	if err != nil {
		return "", fmt.Errorf("lease store create %s: %w", key, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("%w: %s exists", ErrConflict, key)
		}
		return "", fmt.Errorf("lease store create %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return "", fmt.Errorf("lease store create %s: %w", key, err)
	}
	return contentETag(body), nil
}

// PutIfMatch implements Store.
func (d *DirStore) PutIfMatch(_ context.Context, key string, body []byte, etag string) (string, error) {
	p, err := d.path(key)
	if err != nil {
		return "", err
	}
	unlock, err := d.lock(p)
	if err != nil {
		return "", err
	}
	defer unlock()
	cur, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s does not exist", ErrConflict, key)
	}
	if err != nil {
		return "", fmt.Errorf("lease store replace %s: %w", key, err)
	}
	if contentETag(cur) != etag {
		return "", fmt.Errorf("%w: %s changed", ErrConflict, key)
	}
	tmp, err := writeTemp(p, body)
	if err != nil {
		return "", fmt.Errorf("lease store replace %s: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("lease store replace %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return "", fmt.Errorf("lease store replace %s: %w", key, err)
	}
	return contentETag(body), nil
}

// lock takes the store mutex and the key's file lock; the returned func
// releases both.
func (d *DirStore) lock(p string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("lease store: %w", err)
	}
	d.mu.Lock()
	f, err := os.OpenFile(p+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		d.mu.Unlock()
		return nil, fmt.Errorf("lease store lock: %w", err)
	}
	if err := flock(f); err != nil {
		f.Close()
		d.mu.Unlock()
		return nil, fmt.Errorf("lease store lock: %w", err)
	}
	return func() {
		f.Close() // closing the descriptor drops the flock
		d.mu.Unlock()
	}, nil
}

// writeTemp writes body to a synced temporary file beside p.
func writeTemp(p string, body []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	_, werr := f.Write(body)
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(name)
		return "", werr
	}
	return name, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
