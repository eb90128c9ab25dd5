package fsbackend

import (
	"slices"
	"sort"
	"strings"
)

// chunkSize is the number of entries in a chunk of an entList (a chunk
// grows to 2*chunkSize before it is split).
const chunkSize = 1024

// entChunk is a run of a directory's sorted entries: materialized (ents),
// or entries lo..hi of a persisted index, read when needed.
type entChunk struct {
	first  dirEnt   // its first entry
	ents   []dirEnt // nil when lazy; never modified once published
	ix     *dirIndex
	lo, hi int
}

func (c *entChunk) len() int {
	if c.ents != nil {
		return len(c.ents)
	}
	return c.hi - c.lo
}

// cost is what the chunk counts against the cache's budget (chunkCost;
// nothing while lazy).
func (c *entChunk) cost() int {
	if c.ents == nil {
		return 0
	}
	return chunkCost(c.ents)
}

// load returns the chunk's entries, reading them from the index if lazy.
func (c *entChunk) load() ([]dirEnt, error) {
	if c.ents != nil {
		return c.ents, nil
	}
	return c.ix.chunk(c.lo / chunkSize)
}

// entList is the sorted entries of a directory, cut into chunks. It is
// immutable once published: a change makes a new list sharing all chunks
// but one (with), so listings in flight keep the list they started with,
// and a change costs O(chunkSize + n/chunkSize), not O(n).
type entList struct {
	chunks []entChunk
	starts []int // starts[k]: index of chunks[k]'s first entry; starts[len(chunks)] = n
	mem    int   // materialized entries (what the cache budget counts)
}

func cmpEnt(a, b *dirEnt) int {
	if c := strings.Compare(a.s, b.s); c != 0 {
		return c
	}
	// An object, its versions and a cut at the same bytes: the object's
	// key is the shorter, so it comes first.
	return a.kind.sortRank() - b.kind.sortRank()
}

// newEntList makes a list of sorted entries (shared, not copied).
func newEntList(ents []dirEnt) *entList {
	l := &entList{mem: len(ents)}
	for lo := 0; lo < len(ents); lo += chunkSize {
		hi := min(lo+chunkSize, len(ents))
		l.chunks = append(l.chunks, entChunk{first: ents[lo], ents: ents[lo:hi:hi]})
	}
	l.index()
	return l
}

// indexEntList makes a list whose chunks are read from ix when needed.
func indexEntList(ix *dirIndex) *entList {
	l := &entList{chunks: make([]entChunk, len(ix.firsts))}
	for k := range ix.firsts {
		lo := k * chunkSize
		l.chunks[k] = entChunk{first: ix.firsts[k], ix: ix, lo: lo, hi: min(lo+chunkSize, ix.n)}
	}
	l.index()
	return l
}

func (l *entList) index() {
	l.starts = make([]int, len(l.chunks)+1)
	n := 0
	for k := range l.chunks {
		l.starts[k] = n
		n += l.chunks[k].len()
	}
	l.starts[len(l.chunks)] = n
}

// Len is the number of entries.
func (l *entList) Len() int {
	if l == nil {
		return 0
	}
	return l.starts[len(l.chunks)]
}

// with returns a list with e added (present) or removed (an entry with
// e's name); an entry present already loses its listing fields (its
// object was replaced). The receiver is left as it was.
func (l *entList) with(e dirEnt, present bool) (*entList, error) {
	// The chunk whose range holds e: the last one whose first entry <= e.
	k := sort.Search(len(l.chunks), func(k int) bool { return cmpEnt(&l.chunks[k].first, &e) > 0 }) - 1
	if k < 0 {
		k = 0
	}
	var old []dirEnt
	if len(l.chunks) > 0 {
		var err error
		if old, err = l.chunks[k].load(); err != nil {
			return nil, err
		}
	}
	i, found := slices.BinarySearchFunc(old, e, func(a, b dirEnt) int { return cmpEnt(&a, &b) })
	var ents []dirEnt
	switch {
	case found && present && old[i].lf != nil:
		ents = slices.Clone(old)
		ents[i].lf = nil
	case found == present:
		return l, nil // already so (names are canonical: one per piece and kind)
	case present:
		ents = slices.Insert(slices.Clone(old), i, e)
	default:
		ents = slices.Delete(slices.Clone(old), i, i+1)
	}
	var repl []entChunk
	switch {
	case len(ents) == 0:
	case len(ents) > 2*chunkSize:
		h := len(ents) / 2
		repl = []entChunk{{first: ents[0], ents: ents[:h:h]}, {first: ents[h], ents: ents[h:]}}
	default:
		repl = []entChunk{{first: ents[0], ents: ents}}
	}
	nl := &entList{chunks: repl, mem: chunkCost(ents)}
	if len(l.chunks) > 0 {
		nl.chunks = slices.Concat(l.chunks[:k], repl, l.chunks[k+1:])
		nl.mem = l.mem + chunkCost(ents) - l.chunks[k].cost()
	}
	nl.index()
	return nl, nil
}

// entCursor reads a list for one walk, keeping the chunk last read.
type entCursor struct {
	l    *entList
	k    int // the chunk in buf; -1: none
	buf  []dirEnt
	base int // starts[k]
}

func newCursor(l *entList) entCursor { return entCursor{l: l, k: -1} }

// at returns entry i (< Len).
func (c *entCursor) at(i int) (dirEnt, error) {
	if c.k < 0 || i < c.base || i >= c.base+len(c.buf) {
		k := sort.Search(len(c.l.chunks), func(k int) bool { return c.l.starts[k+1] > i })
		if err := c.loadChunk(k); err != nil {
			return dirEnt{}, err
		}
	}
	return c.buf[i-c.base], nil
}

func (c *entCursor) loadChunk(k int) error {
	ents, err := c.l.chunks[k].load()
	if err != nil {
		return err
	}
	c.k, c.buf, c.base = k, ents, c.l.starts[k]
	return nil
}

// search returns the least i >= from with f(entry i) true, or Len; f must
// be false then true along the list.
func (c *entCursor) search(from int, f func(*dirEnt) bool) (int, error) {
	l := c.l
	n := l.Len()
	if from >= n {
		return n, nil
	}
	k0 := sort.Search(len(l.chunks), func(k int) bool { return l.starts[k+1] > from })
	// The first chunk after k0 whose first entry satisfies f: the answer
	// is in the chunk before it, or is its first entry.
	kf := k0 + 1 + sort.Search(len(l.chunks)-k0-1, func(j int) bool { return f(&l.chunks[k0+1+j].first) })
	k := kf - 1
	if c.k != k {
		if err := c.loadChunk(k); err != nil {
			return 0, err
		}
	}
	lo := max(from, c.base) - c.base
	rest := c.buf[lo:]
	return c.base + lo + sort.Search(len(rest), func(j int) bool { return f(&rest[j]) }), nil
}
