package fsbackend

import (
	"errors"
	"io/fs"
	"path"
	"strings"
)

// dgp's own changes keep the listing cache (listcache.go): each change of
// an entry in a directory goes through dirOp, which, when the directory
// is cached, stats it before and after the change and hands the change
// to the cache, so that a listing after a PUT or DELETE still costs a
// page, not a read of the directory. See docs/storage.md ("Listing and
// the directory index") for why this is sound.

// dirOp runs op, which creates, replaces or removes the entry name of
// directory dir (relative to the root), and keeps the cached list of dir
// in step.
func (b *Backend) dirOp(dir, name string, op func() error) error {
	c := b.dirs
	mu := &c.dirLocks[stripe(dirStripes, dir)]
	mu.Lock()
	defer mu.Unlock()
	if !c.has(dir) && !b.loadIndexed(dir) {
		return op()
	}
	st0, ok0 := b.stampDir(dir)
	err := op()
	_, lerr := b.root.Lstat(path.Join(dir, name))
	st1, ok1 := b.stampDir(dir)
	if !ok0 || !ok1 || (lerr != nil && !isNotExist(lerr)) {
		c.forget(dir)
		return err
	}
	c.apply(dir, st0, st1, name, lerr == nil)
	return err
}

// loadIndexed caches the list of dir from its persisted index if that is
// valid, so that a write into a large directory after a start, before any
// listing of it, keeps the index's work instead of making it stale.
func (b *Backend) loadIndexed(dir string) bool {
	if b.dirs.ix == nil {
		return false
	}
	st, ok := b.stampDir(dir)
	if !ok {
		return false
	}
	l := b.dirs.ix.load(dir, st)
	if l == nil {
		return false
	}
	b.dirs.put(dir, st, l)
	return true
}

// entryOp is dirOp for the entry at rel.
func (b *Backend) entryOp(rel string, op func() error) error {
	return b.dirOp(path.Dir(rel), path.Base(rel), op)
}

func (b *Backend) stampDir(dir string) (dirStamp, bool) {
	fi, err := b.root.Stat(dir)
	if err != nil {
		return dirStamp{}, false
	}
	return stampOf(fi)
}

// remove is Root.Remove through entryOp.
func (b *Backend) remove(rel string) error {
	return b.entryOp(rel, func() error { return b.root.Remove(rel) })
}

// rename is Root.Rename of a file from outside the bucket trees (the
// staging directory) or from the same directory's versions, through
// entryOp on the target.
func (b *Backend) renameTo(from, to string) error {
	return b.entryOp(to, func() error { return b.root.Rename(from, to) })
}

// mkdirAll creates dir and its missing parents, each through dirOp on its
// parent, retried when it races another creation (EEXIST) or the removal
// of an emptied parent (ENOENT).
func (b *Backend) mkdirAll(dir string) error {
	var err error
	for range commitAttempts {
		if err = b.mkdirParts(dir); err == nil || !isNotExist(err) {
			return err
		}
	}
	return err
}

func (b *Backend) mkdirParts(dir string) error {
	if fi, err := b.root.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		if fi, err := b.root.Lstat(p); err == nil && fi.IsDir() {
			continue
		}
		err := b.entryOp(p, func() error { return b.root.Mkdir(p, dirPerm) })
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// closeIndex stops the index writer (a no-op without one).
func (b *Backend) closeIndex() error { return b.dirs.ix.close() }
