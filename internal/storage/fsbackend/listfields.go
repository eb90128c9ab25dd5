package fsbackend

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// A cached or indexed directory's object entries can carry what a listing
// reports of the object (size, ETag, modification time), so that a
// listing of a large directory reads no object file for them: a page is
// then a walk of the list alone, and the first listing after a start,
// served from the persisted index, reads no file of the directory at all
// (issue 17: a million keys listed from a cold page cache).
//
// Where the fields come from, and why they stay true:
//
//   - A listing that read an object's trailer through a cached list hands
//     what it read back to the cache (fill), which keeps it only if the
//     directory's cached state did not change since the listing took the
//     list (its version, bumped by every change of the list or stamp).
//   - dgp replaces an object only by renaming a new file over it, through
//     dirOp, which clears the fields of the entry it touched (and bumps
//     the version), whether or not the directory's stamp moved: a fill
//     racing that change is either refused (version) or cleared (apply
//     makes its change again on the list the fill installed).
//   - The index writer persists the fields of the list it writes, which
//     is valid for the stamp it records, like the names.
//
// An object file modified in place by another program (dgp never does)
// is not seen by a listing of a cached directory until the directory
// changes: docs/storage.md.
type listFields struct {
	size     int64
	etag     string
	modified time.Time
}

// info is the listing's entry of the object key (objMeta.listed's too).
func (f *listFields) info(key string) storage.ObjectInfo {
	return storage.ObjectInfo{Key: key, Size: f.size, ETag: f.etag, LastModified: f.modified, StorageClass: "STANDARD"}
}

func fieldsOf(m *objMeta) listFields {
	return listFields{size: m.Size, etag: m.ETag, modified: m.Modified}
}

// fillRef locates an entry of a cached list: the directory (cache key),
// the version of its cached state the list was taken at (0: not cached,
// nothing to fill) and the entry's index.
type fillRef struct {
	dir string
	ver uint64
	idx int
}

// fieldUpdate is the fields read for entry idx of a list.
type fieldUpdate struct {
	idx int
	lf  listFields
}

// fillPage hands the fields a page read to the cache, for the entries
// that came from a cached list and whose object file was read directly.
func (c *dirCache) fillPage(ents []pageEnt) {
	var ups []fieldUpdate
	var ref fillRef
	flush := func() {
		if len(ups) > 0 {
			c.fill(ref.dir, ref.ver, ups)
			ups = ups[:0]
		}
	}
	for i := range ents {
		e := &ents[i]
		if e.isPrefix || e.lf != nil || e.err != nil || e.meta == nil || !e.direct || e.from.ver == 0 {
			continue
		}
		if e.from.dir != ref.dir || e.from.ver != ref.ver {
			flush()
			ref = e.from
		}
		ups = append(ups, fieldUpdate{idx: e.from.idx, lf: fieldsOf(e.meta)})
	}
	flush()
}

// fill sets the fields of entries of the list cached for dir, if its
// cached state is still version ver (ups in increasing idx). It holds the
// cache's lock throughout, so no change of the list falls between its
// check and its swap (the price: a chunk copied, or read from the index
// for a list served from one, under the lock, once a page).
func (c *dirCache) fill(dir string, ver uint64, ups []fieldUpdate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dirs[dir]
	if d == nil || d.ver != ver {
		return
	}
	l := d.list
	nl, err := l.withFields(ups)
	if err != nil || nl == l {
		return // an unreadable index chunk: the walk rereads the directory
	}
	c.total += nl.mem - l.mem
	d.list, d.ver = nl, c.nextVer()
	if c.ix != nil {
		c.ix.markDirty(dir)
	}
	c.evict()
}

// withFields returns a list with the fields of ups set (ups in increasing
// idx, each < Len). The receiver is left as it was.
func (l *entList) withFields(ups []fieldUpdate) (*entList, error) {
	nl := &entList{chunks: slices.Clone(l.chunks), starts: l.starts, mem: l.mem}
	changed := false
	for j := 0; j < len(ups); {
		k := chunkAt(l, ups[j].idx)
		base, end := l.starts[k], l.starts[k+1]
		old, err := l.chunks[k].load()
		if err != nil {
			return nil, err
		}
		ents := slices.Clone(old)
		n := 0
		for j+n < len(ups) && ups[j+n].idx < end {
			n++
		}
		lfs := make([]listFields, 0, n) // never grown: the entries point into it
		for ; j < len(ups) && ups[j].idx < end; j++ {
			e := &ents[ups[j].idx-base]
			if e.kind != kindObject || e.lf != nil {
				continue
			}
			lfs = append(lfs, ups[j].lf)
			e.lf = &lfs[len(lfs)-1]
		}
		if len(lfs) == 0 {
			continue
		}
		changed = true
		nl.mem += chunkCost(ents) - l.chunks[k].cost()
		nl.chunks[k] = entChunk{first: ents[0], ents: ents}
	}
	if !changed {
		return l, nil
	}
	return nl, nil
}

// chunkAt is the chunk holding entry i (< Len).
func chunkAt(l *entList, i int) int {
	k, found := slices.BinarySearch(l.starts, i)
	if !found {
		k--
	}
	// Empty chunks do not exist, so starts are increasing.
	return k
}

// chunkCost is what a materialized chunk counts against the cache's
// budget: an entry, and one more for an entry carrying fields (about
// twice the memory).
func chunkCost(ents []dirEnt) int {
	n := len(ents)
	for i := range ents {
		if ents[i].lf != nil {
			n++
		}
	}
	return n
}

// The persisted index stores, after each entry's name, a byte saying
// whether fields follow (0 or 1), then the size (uvarint), the ETag
// (uvarint length, bytes) and the modification time (uvarint length,
// time.Time's binary form, which keeps its zone offset).

func appendFields(b []byte, e *dirEnt) ([]byte, error) {
	if e.lf == nil {
		return append(b, 0), nil
	}
	tb, err := e.lf.modified.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(e.lf.size))
	b = binary.AppendUvarint(b, uint64(len(e.lf.etag)))
	b = append(b, e.lf.etag...)
	b = binary.AppendUvarint(b, uint64(len(tb)))
	return append(b, tb...), nil
}

// readFields reads an entry's fields into lf; false: malformed (or fields
// on an entry that is not an object).
func readFields(r *byteReader, e *dirEnt, lf *listFields) (has, ok bool) {
	if len(r.b) == 0 {
		return false, false
	}
	flag := r.b[0]
	r.b = r.b[1:]
	switch {
	case flag == 0:
		return false, true
	case flag != 1 || e.kind != kindObject:
		return false, false
	}
	size := r.uvarint()
	etag := r.bytes()
	tb := r.bytes()
	if r.err || size > 1<<62 || lf.modified.UnmarshalBinary(tb) != nil {
		return false, false
	}
	lf.size, lf.etag = int64(size), string(etag)
	return true, true
}
