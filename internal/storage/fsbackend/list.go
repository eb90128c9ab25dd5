package fsbackend

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/dgp-proxy/dgp/internal/storage"
)

const maxListKeys = 1000

// dirEnt is a directory entry decoded into its piece.
type dirEnt struct {
	s    string // the piece; dirs include their trailing '/'
	name string // the file name
	kind pieceKind
	// lf is what a listing reports of the object (kindObject), when a
	// cached or indexed list knows it; nil: read its file (listfields.go).
	lf *listFields
}

// level is one directory on the walker's stack.
type level struct {
	prefix string // the key prefix this directory stands for
	dir    string // its path relative to the backend root
	// base and rel locate the directory: rel relative to base, which is
	// the directory's own handle (rel ".") or its deepest held ancestor's.
	base *os.Root
	rel  string
	own  *os.Root // the directory's own handle, closed when popped
	ents entCursor
	ver  uint64 // the version of the cached state ents is (0: not cached)
	i    int
}

// item is what the walker yields: an object, or (collapsed) a directory
// standing for all keys starting with key.
type item struct {
	key     string
	base    *os.Root // object file or versions directory: rel relative to base
	rel     string
	isRange bool
	// lf is what the list knows of the object (nil: read its file), and
	// from where a listing hands back what it read (listfields.go).
	lf   *listFields
	from fillRef
}

// walker yields the keys of a bucket subtree in byte order. Because pieces
// are cut deterministically, each directory's entries sorted by piece cover
// disjoint, ordered key ranges, so a depth-first walk in that order is a
// walk in key order. It holds a handle per directory on its stack (up to
// maxHeldDirs), so each step opens one path component. Close releases them.
type walker struct {
	limit string // the listing prefix: stop after the keys that have it
	// versions makes the walker yield versions directories too (a key
	// may then come twice: its object file, then its versions directory)
	// and count them as content when collapsing.
	versions bool
	stack    []*level
	// cache holds the sorted entries of large directories (nil: none).
	cache *dirCache
	// retain keeps the handles of the directories left (retired) until
	// release, so that the items yielded from them stay readable.
	retain  bool
	retired []*os.Root
}

// push reads directory rel of base, which is the backend root, and puts
// it on the stack.
func (w *walker) push(base *os.Root, rel, prefix string) error {
	return w.pushDir(base, rel, rel, prefix)
}

// pushDir reads directory rel of base, whose path relative to the backend
// root is dir, and puts it on the stack.
func (w *walker) pushDir(base *os.Root, rel, dir, prefix string) error {
	lvl := &level{prefix: prefix, dir: dir, base: base, rel: rel}
	if len(w.stack) < maxHeldDirs {
		own, err := base.OpenRoot(rel)
		switch {
		case err == nil:
			lvl.own, lvl.base, lvl.rel = own, own, "."
		case isNotExist(err):
			return nil // removed meanwhile: nothing there
		default:
			return fmt.Errorf("open directory: %w", err)
		}
	}
	l, ver, err := sortedEntries(w.cache, lvl.base, lvl.rel, dir)
	if err != nil {
		if lvl.own != nil {
			_ = lvl.own.Close()
		}
		return fmt.Errorf("read directory: %w", err)
	}
	lvl.ents, lvl.ver = newCursor(l), ver
	w.stack = append(w.stack, lvl)
	return nil
}

// reread replaces a level's entries, read from a persisted index that
// turned out unreadable, by the directory's own (the index is removed).
// The walk is driven by its bound, so it goes on from the level's first
// entry: what was yielded already is below the bound.
func (w *walker) reread(lvl *level) error {
	w.cache.invalidate(lvl.dir)
	l, ver, err := sortedEntries(w.cache, lvl.base, lvl.rel, lvl.dir)
	if err != nil {
		return fmt.Errorf("read directory: %w", err)
	}
	if l.Len() > 0 && l.chunks[0].ents == nil {
		return fmt.Errorf("read directory: index of %s still in use", lvl.dir)
	}
	lvl.ents, lvl.ver, lvl.i = newCursor(l), ver, 0
	return nil
}

func (w *walker) pop() {
	top := w.stack[len(w.stack)-1]
	if top.own != nil {
		if w.retain {
			w.retired = append(w.retired, top.own)
		} else {
			_ = top.own.Close()
		}
	}
	w.stack = w.stack[:len(w.stack)-1]
}

// release closes the handles of the directories left since the last
// release.
func (w *walker) release() {
	for i, r := range w.retired {
		_ = r.Close()
		w.retired[i] = nil
	}
	w.retired = w.retired[:0]
}

// popAll leaves every directory on the stack.
func (w *walker) popAll() {
	for len(w.stack) > 0 {
		w.pop()
	}
}

// Close releases every directory handle.
func (w *walker) Close() {
	w.popAll()
	w.release()
}

// entBelow reports whether every key an entry stands for is < rb, where rb
// is the bound relative to the entry's directory.
func entBelow(e *dirEnt, rb string) bool {
	if e.kind == kindObject || e.kind == kindVersions {
		return e.s < rb
	}
	return e.s < rb && !strings.HasPrefix(rb, e.s)
}

// next returns the first item >= bound. When collapse(full) is true for a
// directory standing for the keys starting with full, that directory is
// yielded as a range (if it holds any object) instead of being entered.
func (w *walker) next(bound string, collapse func(full string) bool) (item, bool, error) {
	for len(w.stack) > 0 {
		top := w.stack[len(w.stack)-1]
		n := top.ents.l.Len()
		if strings.HasPrefix(bound, top.prefix) {
			rb := bound[len(top.prefix):]
			i, err := top.ents.search(top.i, func(e *dirEnt) bool { return !entBelow(e, rb) })
			if err != nil {
				if err := w.reread(top); err != nil {
					return item{}, false, err
				}
				continue
			}
			top.i = i
		} else if bound > top.prefix {
			top.i = n // the whole directory is below bound
		}
		if top.i >= n {
			w.pop()
			continue
		}
		ent, err := top.ents.at(top.i)
		if err != nil {
			if err := w.reread(top); err != nil {
				return item{}, false, err
			}
			continue
		}
		e := &ent
		top.i++
		full := top.prefix + e.s
		if full > w.limit && !strings.HasPrefix(full, w.limit) && !strings.HasPrefix(w.limit, full) {
			w.popAll() // past every key with the listing prefix
			return item{}, false, nil
		}
		rel := path.Join(top.rel, e.name)
		if e.kind == kindObject {
			it := item{key: full, base: top.base, rel: rel, lf: e.lf}
			if top.ver != 0 {
				it.from = fillRef{dir: top.dir, ver: top.ver, idx: top.i - 1}
			}
			return it, true, nil
		}
		if e.kind == kindVersions && w.versions {
			return item{key: full, base: top.base, rel: rel}, true, nil
		}
		if e.kind == kindVersions {
			continue
		}
		if collapse != nil && collapse(full) {
			has, err := hasObjects(top.base, rel, len(w.stack), w.versions)
			if err != nil {
				return item{}, false, fmt.Errorf("scan directory: %w", err)
			}
			if has {
				return item{key: full, isRange: true}, true, nil
			}
			continue
		}
		if err := w.pushDir(top.base, rel, top.dir+"/"+e.name, full); err != nil {
			return item{}, false, err
		}
	}
	return item{}, false, nil
}

// successor returns the least string greater than every string starting
// with s; ok is false when there is none (s is all 0xff bytes).
func successor(s string) (string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0xff {
			return s[:i] + string([]byte{s[i] + 1}), true
		}
	}
	return "", false
}

// statObject reads the metadata of an object file (rel relative to base).
func statObject(base *os.Root, rel, key string) (*objMeta, error) {
	f, err := base.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := readMeta(f)
	if err != nil {
		return nil, err
	}
	m.Key = key
	return m, nil
}

// ListObjects lists keys in byte order with S3's semantics: keys after
// Marker that start with Prefix; with a Delimiter, keys containing it after
// the prefix are rolled up into common prefixes (each once, and never one
// that sorts at or before Marker); objects and common prefixes together
// count against MaxKeys. A prefix listing walks only the prefix's subtree.
// Each object is reported as an S3 listing reports it: key, size, ETag,
// modification time and storage class (no content type or metadata: a
// HEAD gives those).
func (b *Backend) ListObjects(ctx context.Context, bucket string, opts storage.ListOptions) (*storage.ListResult, error) {
	if err := validateBucket(bucket); err != nil {
		return nil, err
	}
	if err := b.bucketExists(bucket); err != nil {
		return nil, err
	}
	res := &storage.ListResult{}
	maxKeys := min(opts.MaxKeys, maxListKeys)
	if maxKeys <= 0 {
		return res, nil // S3 answers max-keys=0 with an empty, untruncated page
	}
	prefix, delim, marker := opts.Prefix, opts.Delimiter, opts.Marker

	names, consumed := prefixDir(prefix)
	w := &walker{limit: prefix, cache: b.dirs}
	defer w.Close()
	if err := w.push(b.root, path.Join(append([]string{bucket}, names...)...), consumed); err != nil {
		return nil, err
	}
	bound := prefix
	if marker != "" && marker+"\x00" > bound {
		bound = marker + "\x00"
	}
	var collapse func(string) bool
	if delim != "" {
		collapse = func(full string) bool {
			return strings.HasPrefix(full, prefix) && strings.Contains(full[len(prefix):], delim)
		}
	}

	w.retain = true
	batch := pageBatch{workers: b.statWorkers, pace: b.pace}
	defer batch.Close()
	count, last := 0, ""
	for done := false; !done && !res.IsTruncated; {
		// Walk to the next maxKeys-count+1 entries that would count (the
		// one past the page tells whether it is truncated), read their
		// objects' metadata (in parallel when many), then take them in
		// order: an object deleted since its directory was read does not
		// count, and the walk goes on from where it stopped.
		batch.reset()
		for len(batch.ents) <= maxKeys-count && len(w.retired) < maxRetiredDirs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			it, ok, err := w.next(bound, collapse)
			if err != nil {
				return nil, fmt.Errorf("list objects: %w", err)
			}
			if !ok || !strings.HasPrefix(it.key, prefix) {
				done = true
				break
			}
			if delim != "" {
				if i := strings.Index(it.key[len(prefix):], delim); i >= 0 {
					name := it.key[:len(prefix)+i+len(delim)]
					if name > marker || marker == "" {
						batch.ents = append(batch.ents, pageEnt{key: name, isPrefix: true})
					}
					next, ok := successor(name)
					if !ok {
						done = true
						break
					}
					bound = next
					continue
				}
			}
			bound = it.key + "\x00"
			batch.ents = append(batch.ents, pageEnt{key: it.key, base: it.base, rel: it.rel, lf: it.lf, from: it.from})
		}
		objects := batch.stat()
		w.release()
		b.dirs.fillPage(batch.ents)
		// Room for the batch's objects at once (appending one by one
		// allocated twice the page's objects).
		res.Objects = slices.Grow(res.Objects, min(objects, maxKeys-count))
		for i := range batch.ents {
			e := &batch.ents[i]
			if e.err != nil {
				if isNotExist(e.err) {
					continue // deleted since the directory was read
				}
				return nil, fmt.Errorf("list objects: read %q: %w", e.key, e.err)
			}
			if count == maxKeys {
				res.IsTruncated = true
				break
			}
			switch {
			case e.isPrefix:
				res.CommonPrefixes = append(res.CommonPrefixes, e.key)
			case e.lf != nil:
				res.Objects = append(res.Objects, e.lf.info(e.key))
			default:
				res.Objects = append(res.Objects, e.meta.listed())
			}
			count, last = count+1, e.key
		}
	}
	if res.IsTruncated {
		res.NextMarker = last
	}
	return res, nil
}
