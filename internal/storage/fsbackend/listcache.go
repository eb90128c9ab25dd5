package fsbackend

import (
	clist "container/list"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// A listing walks directories in key order, so it needs each directory's
// entries sorted; a directory of a million keys takes about a second to
// read, decode and sort, far more than a page. dirCache keeps the sorted
// entries of large directories, keyed by their path and validated on each
// use by the directory's stat (inode, mtime, ctime, size): a listing of a
// cached directory costs one stat and a binary search, whatever its size.
//
// Soundness: entries are cached only when the directory's stat was the
// same before and after reading it and its mtime is older than
// racyWindow before the read began. A change made after the read began is
// then stamped with a later mtime (timestamps come from a clock coarser
// than a millisecond, never coarser than racyWindow), so a cached entry
// never hides a change: a modified directory is read again.
const (
	// cacheMinEntries: smaller directories are read each time (cheap).
	cacheMinEntries = 512
	// cacheBudget bounds the entries held over all cached directories
	// (an entry with a short name is about 65 bytes: 2M entries is ~130
	// MiB at most; one with listing fields is about 160 bytes and counts
	// twice).
	cacheBudget = 2 << 20
	racyWindow  = 100 * time.Millisecond
	dirStripes  = 256
)

// dirStamp identifies a state of a directory.
type dirStamp struct {
	dev, ino     uint64
	mtime, ctime int64
	size         int64
}

type cachedDir struct {
	path  string
	stamp dirStamp
	list  *entList // replaced, never modified, by dgp's own changes
	// ver changes with every change of list or stamp (nextVer), so a
	// listing's fill can tell the state it read is still the one cached.
	ver  uint64
	elem *clist.Element
}

// dirCache is safe for concurrent use; the zero value is not usable (see
// newDirCache).
type dirCache struct {
	mu     sync.Mutex
	dirs   map[string]*cachedDir
	lru    clist.List // of *cachedDir, most recent first
	total  int        // materialized entries over all lists
	budget int
	now    func() time.Time
	vers   uint64 // the last version given (nextVer)

	// dirLocks serialise dgp's own changes of a directory (dirOp), so
	// that no change of dgp's falls between another's two stats.
	dirLocks [dirStripes]sync.Mutex
	// ix persists the lists of large directories (nil: not persisted).
	ix *indexStore
}

func newDirCache(budget int) *dirCache {
	return &dirCache{dirs: map[string]*cachedDir{}, budget: budget, now: time.Now}
}

// nextVer returns a new version; the caller holds c.mu.
func (c *dirCache) nextVer() uint64 {
	c.vers++
	return c.vers
}

// get returns the list cached for path if it is valid for stamp st, and
// the version of that cached state.
func (c *dirCache) get(path string, st dirStamp) (*entList, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dirs[path]
	if d == nil {
		return nil, 0
	}
	if d.stamp != st {
		c.drop(d)
		return nil, 0
	}
	c.lru.MoveToFront(d.elem)
	return d.list, d.ver
}

// snapshot returns the cached list of path and the stamp it is valid for.
func (c *dirCache) snapshot(path string) (*entList, dirStamp, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dirs[path]
	if d == nil {
		return nil, dirStamp{}, false
	}
	return d.list, d.stamp, true
}

func (c *dirCache) has(path string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dirs[path] != nil
}

// put caches l for path, valid for stamp st, and returns the version of
// that state (0: not cached, l is over the budget).
func (c *dirCache) put(path string, st dirStamp, l *entList) uint64 {
	if l.mem > c.budget {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.dirs[path]; old != nil {
		c.drop(old)
	}
	d := &cachedDir{path: path, stamp: st, list: l, ver: c.nextVer()}
	d.elem = c.lru.PushFront(d)
	c.dirs[path] = d
	c.total += l.mem
	c.evict() // never d: it is the most recent
	return d.ver
}

func (c *dirCache) evict() {
	for c.total > c.budget && c.lru.Len() > 1 {
		c.drop(c.lru.Back().Value.(*cachedDir))
	}
}

// forgetBucket drops the entries and indexes of a deleted bucket.
func (c *dirCache) forgetBucket(bucket string) {
	c.mu.Lock()
	for p, d := range c.dirs {
		if p == bucket || strings.HasPrefix(p, bucket+"/") {
			c.drop(d)
		}
	}
	c.mu.Unlock()
	c.ix.forgetBucket(bucket)
}

// invalidate drops the entry and the index of path (unreadable).
func (c *dirCache) invalidate(path string) {
	if c == nil {
		return
	}
	c.forget(path)
	c.ix.remove(path)
}

// swap replaces the list of path by nl, an equal list, if the cache still
// holds l for stamp st.
func (c *dirCache) swap(path string, l *entList, st dirStamp, nl *entList) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dirs[path]
	if d == nil || d.list != l || d.stamp != st || nl.Len() != l.Len() {
		return false
	}
	c.total += nl.mem - l.mem
	d.list, d.ver = nl, c.nextVer()
	return true
}

// forget drops the entry of path, if any.
func (c *dirCache) forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := c.dirs[path]; d != nil {
		c.drop(d)
	}
}

// apply records a change dgp made in directory path: the entry name is
// now present or not, and the directory's stamp went from st0 to st1. The
// cached list is kept (changed) only if it was valid for st0; otherwise
// the directory changed in another way and the entry is dropped. The
// caller holds the directory's lock (dirOp).
func (c *dirCache) apply(path string, st0, st1 dirStamp, name string, present bool) {
	e, isPiece := entOf(name)
	// The index writer may swap the list for an equal one read from the
	// new index meanwhile (same stamp): then the change is made again on
	// that list. Only dirOp changes a list's content, under the lock the
	// caller holds, so this ends.
	for {
		c.mu.Lock()
		d := c.dirs[path]
		if d == nil {
			c.mu.Unlock()
			return
		}
		if d.stamp != st0 {
			c.drop(d)
			c.mu.Unlock()
			return
		}
		l := d.list
		c.mu.Unlock()

		nl := l
		if isPiece {
			var err error
			if nl, err = l.with(e, present); err != nil {
				nl = nil // an unreadable index chunk: read the directory again
			}
		}

		c.mu.Lock()
		switch {
		case c.dirs[path] != d:
			// Replaced by a listing's read, or dropped, meanwhile.
		case d.list != l && d.stamp == st0:
			c.mu.Unlock()
			continue
		case nl == nil || d.list != l:
			c.drop(d)
		default:
			c.total += nl.mem - l.mem
			d.list, d.stamp, d.ver = nl, st1, c.nextVer()
			if c.ix != nil {
				c.ix.markDirty(path)
			}
			c.evict()
		}
		c.mu.Unlock()
		return
	}
}

func (c *dirCache) drop(d *cachedDir) {
	c.lru.Remove(d.elem)
	delete(c.dirs, d.path)
	c.total -= d.list.mem
}

// sortedEntries returns the entries of directory rel of base, sorted by
// piece, and the version of the cached state they are (0: not cached);
// dir is its path relative to the backend root (the cache key).
// With a nil cache, or for small or recently changed directories, it reads
// the directory. A directory not cached but with a persisted index valid
// for its stamp is served from the index. Missing directories have no
// entries.
func sortedEntries(c *dirCache, base *os.Root, rel, dir string) (*entList, uint64, error) {
	var st dirStamp
	stamped := false
	if c != nil {
		fi, err := base.Stat(rel)
		switch {
		case err == nil:
			st, stamped = stampOf(fi)
		case isNotExist(err):
			return newEntList(nil), 0, nil
		default:
			return nil, 0, err
		}
		if stamped {
			if l, ver := c.get(dir, st); l != nil {
				return l, ver, nil
			}
			if l := c.ix.load(dir, st); l != nil {
				return l, c.put(dir, st, l), nil
			}
		}
	}
	start := time.Now()
	if c != nil {
		start = c.now()
	}
	names, err := readNames(base, rel)
	if err != nil {
		return nil, 0, err
	}
	l := newEntList(decodeEntries(names))
	var ver uint64
	if stamped && l.Len() >= cacheMinEntries && time.Unix(0, st.mtime).Before(start.Add(-racyWindow)) {
		if fi, err := base.Stat(rel); err == nil {
			if st2, ok := stampOf(fi); ok && st2 == st {
				ver = c.put(dir, st, l)
				c.ix.markDirty(dir)
			}
		}
	}
	return l, ver, nil
}

// decodeEntries decodes directory entry names into pieces (skipping
// foreign names) and sorts them in key order.
func decodeEntries(names []string) []dirEnt {
	ents := make([]dirEnt, 0, len(names))
	for _, name := range names {
		if e, ok := entOf(name); ok {
			ents = append(ents, e)
		}
	}
	slices.SortFunc(ents, func(a, b dirEnt) int { return cmpEnt(&a, &b) })
	return ents
}
