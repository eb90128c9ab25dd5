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
	// (an entry is about 60 bytes: 2M entries is ~120 MiB at most).
	cacheBudget = 2 << 20
	racyWindow  = 100 * time.Millisecond
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
	ents  []dirEnt // sorted; never modified once cached
	elem  *clist.Element
}

// dirCache is safe for concurrent use; the zero value is not usable (see
// newDirCache).
type dirCache struct {
	mu     sync.Mutex
	dirs   map[string]*cachedDir
	lru    clist.List // of *cachedDir, most recent first
	total  int
	budget int
	now    func() time.Time
}

func newDirCache(budget int) *dirCache {
	return &dirCache{dirs: map[string]*cachedDir{}, budget: budget, now: time.Now}
}

func (c *dirCache) get(path string, st dirStamp) []dirEnt {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dirs[path]
	if d == nil {
		return nil
	}
	if d.stamp != st {
		c.drop(d)
		return nil
	}
	c.lru.MoveToFront(d.elem)
	return d.ents
}

func (c *dirCache) put(path string, st dirStamp, ents []dirEnt) {
	if len(ents) > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.dirs[path]; old != nil {
		c.drop(old)
	}
	d := &cachedDir{path: path, stamp: st, ents: ents}
	d.elem = c.lru.PushFront(d)
	c.dirs[path] = d
	c.total += len(ents)
	for c.total > c.budget {
		c.drop(c.lru.Back().Value.(*cachedDir))
	}
}

func (c *dirCache) drop(d *cachedDir) {
	c.lru.Remove(d.elem)
	delete(c.dirs, d.path)
	c.total -= len(d.ents)
}

// sortedEntries returns the entries of directory rel of base, sorted by
// piece; dir is its path relative to the backend root (the cache key).
// With a nil cache, or for small or recently changed directories, it reads
// the directory. Missing directories have no entries.
func sortedEntries(c *dirCache, base *os.Root, rel, dir string) ([]dirEnt, error) {
	var st dirStamp
	stamped := false
	if c != nil {
		fi, err := base.Stat(rel)
		switch {
		case err == nil:
			st, stamped = stampOf(fi)
		case isNotExist(err):
			return nil, nil
		default:
			return nil, err
		}
		if stamped {
			if ents := c.get(dir, st); ents != nil {
				return ents, nil
			}
		}
	}
	start := time.Now()
	if c != nil {
		start = c.now()
	}
	names, err := readNames(base, rel)
	if err != nil {
		return nil, err
	}
	ents := decodeEntries(names)
	if stamped && len(ents) >= cacheMinEntries && time.Unix(0, st.mtime).Before(start.Add(-racyWindow)) {
		if fi, err := base.Stat(rel); err == nil {
			if st2, ok := stampOf(fi); ok && st2 == st {
				c.put(dir, st, ents)
			}
		}
	}
	return ents, nil
}

// decodeEntries decodes directory entry names into pieces (skipping
// foreign names) and sorts them in key order.
func decodeEntries(names []string) []dirEnt {
	ents := make([]dirEnt, 0, len(names))
	for _, name := range names {
		p, kind, ok := parseName(name)
		if !ok {
			continue
		}
		if kind == kindDir {
			p += "/"
		}
		ents = append(ents, dirEnt{s: p, name: name, kind: kind})
	}
	slices.SortFunc(ents, func(a, b dirEnt) int {
		if c := strings.Compare(a.s, b.s); c != 0 {
			return c
		}
		// An object, its versions and a cut at the same bytes: the
		// object's key is the shorter, so it comes first.
		return a.kind.sortRank() - b.kind.sortRank()
	})
	return ents
}
