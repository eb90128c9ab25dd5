package fsbackend

import (
	"crypto/rand"
	"os"
	"sync"
	"time"
)

const (
	// indexQuiet: a changed directory's index is written once the
	// directory has had no change by dgp for this long...
	indexQuiet = 2 * time.Second
	// indexMaxDelay: ...or once it has been waiting this long.
	indexMaxDelay = time.Minute
	// indexSettle: a list is written only once the directory's ctime is
	// this old. A later change then gets a later ctime, so it makes the
	// index stale, even where timestamps are coarse: the kernel's tick
	// without multigrain timestamps, whole seconds on ext4 with small
	// inodes, 2 s on FAT. Without it, a dgp change in the same tick as the
	// change the snapshot holds leaves the stamp as it was, and a crash
	// before the next write leaves an index that misses that change.
	indexSettle = 2 * time.Second
)

// indexStore persists the lists of large directories (dirindex.go) under
// <root>/.index. Lists are written by one goroutine, owned by the store
// and stopped by close, after a directory was read whole or changed by
// dgp and then left quiet. Its methods are no-ops on a nil store.
type indexStore struct {
	root  *os.Root // <backend root>/.index
	cache *dirCache
	now   func() time.Time
	after func(time.Duration) <-chan time.Time

	mu    sync.Mutex
	dirty map[string]dirtyDir

	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

type dirtyDir struct{ first, last time.Time }

func newIndexStore(root *os.Root, cache *dirCache, now func() time.Time, after func(time.Duration) <-chan time.Time) *indexStore {
	return &indexStore{
		root: root, cache: cache, now: now, after: after,
		dirty: map[string]dirtyDir{},
		wake:  make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// start runs the writer; close stops it.
func (s *indexStore) start() { go s.run() }

// close stops the writer after it has written every pending index, and
// releases the index directory.
func (s *indexStore) close() error {
	if s == nil {
		return nil
	}
	var err error
	s.stopOnce.Do(func() {
		close(s.stop)
		<-s.done
		err = s.root.Close()
	})
	return err
}

// load returns the list of dir from its index if the index is valid for
// stamp st; nil otherwise (missing, stale, corrupt, another version).
func (s *indexStore) load(dir string, st dirStamp) *entList {
	if s == nil {
		return nil
	}
	ix, err := openIndex(s.root, dir)
	if err != nil {
		return nil
	}
	if ix.stamp != st {
		_ = ix.f.Close()
		return nil
	}
	return indexEntList(ix)
}

// markDirty schedules the index of dir to be written.
func (s *indexStore) markDirty(dir string) {
	if s == nil {
		return
	}
	now := s.now()
	s.mu.Lock()
	d, ok := s.dirty[dir]
	if !ok {
		d.first = now
	}
	d.last = now
	s.dirty[dir] = d
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// remove removes the index of dir.
func (s *indexStore) remove(dir string) {
	if s == nil {
		return
	}
	_ = s.root.Remove(indexFile(dir))
}

// forgetBucket removes the indexes of a deleted bucket.
func (s *indexStore) forgetBucket(bucket string) {
	if s == nil {
		return
	}
	_ = s.root.RemoveAll(bucket)
}

func (s *indexStore) run() {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			s.flush(true)
			return
		case <-s.wake:
		}
		for {
			wait := s.flush(false)
			if wait <= 0 {
				break
			}
			select {
			case <-s.stop:
				s.flush(true)
				return
			case <-s.after(wait):
			}
		}
	}
}

// flush writes the indexes due (all of them with all) and returns how
// long until the next one is due (0: none pending).
func (s *indexStore) flush(all bool) time.Duration {
	now := s.now()
	var due []string
	var wait time.Duration
	s.mu.Lock()
	for dir, d := range s.dirty {
		at := d.last.Add(indexQuiet)
		if m := d.first.Add(indexMaxDelay); m.Before(at) {
			at = m
		}
		if all || !at.After(now) {
			due = append(due, dir)
			delete(s.dirty, dir)
			continue
		}
		if w := at.Sub(now); wait == 0 || w < wait {
			wait = w
		}
	}
	s.mu.Unlock()
	for _, dir := range due {
		if !s.write(dir, all) {
			// Tried again like a change made now: due after indexQuiet,
			// when the stamp is older than that, so settled (indexQuiet >=
			// indexSettle).
			s.retry(dir, now)
			if wait == 0 || indexQuiet < wait {
				wait = indexQuiet
			}
		}
	}
	return wait
}

// retry schedules again the write of dir, whose state was too recent to
// write (settled), unless a change of dgp's has scheduled it meanwhile.
func (s *indexStore) retry(dir string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.dirty[dir]; !ok {
		s.dirty[dir] = dirtyDir{first: now, last: now}
	}
}

// settled tells whether the directory's state in st is old enough to be
// written (indexSettle).
func (s *indexStore) settled(st dirStamp, now time.Time) bool {
	return now.Sub(time.Unix(0, st.ctime)) >= indexSettle
}

// write persists the cached list of dir, if it is still cached and large.
// It returns false when the directory's state is too recent to be written
// (settled) and the write has to be tried again; when closing it writes
// it anyway, since dgp makes no more changes.
func (s *indexStore) write(dir string, closing bool) bool {
	l, st, ok := s.cache.snapshot(dir)
	if !ok || l.Len() < cacheMinEntries {
		return true
	}
	if len(l.chunks) > 0 && l.chunks[0].ix != nil && l.chunks[0].ix.stamp == st && l.mem == 0 {
		return true // read from an index of this very state
	}
	if !closing && !s.settled(st, s.now()) {
		return false
	}
	// A failure leaves the old index, which its stamp makes unused, or
	// none: the next start reads the directory. Nothing to report.
	if writeIndex(s.root, dir, st, l) != nil {
		return true
	}
	// The cache may now read the list from the index too: it holds a
	// chunk table instead of every entry (memory O(n/chunkSize)).
	if ix, err := openIndex(s.root, dir); err == nil {
		if ix.stamp != st || !s.cache.swap(dir, l, st, indexEntList(ix)) {
			_ = ix.f.Close()
		}
	}
	return true
}

func randSuffix() string { return rand.Text() }
