package fsbackend

import (
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxRetiredDirs bounds the directory handles a listing keeps open
	// for the objects it has walked past but not read yet: a page whose
	// objects spread over more directories is read in several batches.
	maxRetiredDirs = 128
	// statPerWorker is the fewest objects worth a worker of their own;
	// maxStatWorkers bounds the workers reading one page's objects.
	statPerWorker  = 64
	maxStatWorkers = 4
	// ioStatWorkers and ioPerWorker replace them while the objects come
	// from disk (readPace): a read then waits on the device, and more
	// reads in flight finish sooner (a cold listing of 1,000,000 keys in
	// 100,000 folders: 61-64 s with 16 workers against 67-77 s with 2).
	// From the page cache, reads are CPU, and more workers than
	// processors only slowed a page (10.2 against 8.6-8.9 ms).
	ioStatWorkers = 16
	ioPerWorker   = 16
	// slowRead is the wall time per object read above which a batch is
	// taken to have waited on the device: reads from the page cache take
	// 4-8 µs here, reads from disk 60-130 µs with 2 workers in flight,
	// 35-60 µs with 16.
	slowRead = 30 * time.Microsecond
)

// readPace tells how the last batch of a listing's objects was read (from
// disk or from the page cache), so that the next batch, of this or
// another listing, gets the workers that fit. It only ever changes how
// many workers read a batch, never what is read.
type readPace struct {
	slow atomic.Bool
	// perObject is the slowRead threshold (tests set 0: always slow).
	perObject time.Duration
	// wide counts the batches read with more than maxStatWorkers workers.
	wide atomic.Int64
}

func newReadPace() *readPace { return &readPace{perObject: slowRead} }

// pageEnt is an entry of a listing page, in key order: a common prefix,
// or an object (rel relative to base) and, once read, its metadata or the
// error reading it.
type pageEnt struct {
	key      string
	isPrefix bool
	base     *os.Root
	rel      string
	meta     *objMeta
	err      error
	// lf: the object's listing fields, known from its directory's list
	// (its file is not read); from: where the fields read go back to
	// (listfields.go); direct: the file was read by its name in its
	// directory, not through a symlink.
	lf     *listFields
	from   fillRef
	direct bool
}

// pageBatch reads the metadata of a page's objects. Opening and reading
// a small object file from the page cache is a few system calls that wait
// on nothing but the kernel, so a page of a thousand objects spends most
// of its time in them; the objects are split, in key order, between up to
// one worker per processor (issue 17: a full listing of 1,000,000 keys),
// or up to ioStatWorkers while the reads wait on the disk. Objects whose
// listing fields their directory's list holds are not read. Every worker
// has a pageStat of its own, kept from batch to batch; Close releases
// them.
type pageBatch struct {
	workers int       // workers allowed while reads are CPU (clamped to maxStatWorkers)
	pace    *readPace // nil: never more workers
	ents    []pageEnt
	stats   [ioStatWorkers]pageStat
}

// reset empties the batch.
func (b *pageBatch) reset() {
	clear(b.ents)
	b.ents = b.ents[:0]
}

// stat reads the metadata of the batch's objects into their entries, and
// returns how many objects the batch holds.
func (b *pageBatch) stat() int {
	objects, unread := 0, 0
	for i := range b.ents {
		if e := &b.ents[i]; !e.isPrefix {
			objects++
			if e.lf == nil {
				unread++
			}
		}
	}
	workers := min(b.workers, maxStatWorkers, unread/statPerWorker)
	if b.pace != nil && unread >= ioPerWorker {
		if b.pace.slow.Load() {
			workers = min(ioStatWorkers, unread/ioPerWorker)
			if workers > maxStatWorkers {
				b.pace.wide.Add(1)
			}
		}
		start := time.Now()
		defer func() {
			b.pace.slow.Store(time.Since(start) > time.Duration(unread)*b.pace.perObject)
		}()
	}
	if workers <= 1 {
		statEnts(b.ents, &b.stats[0])
		return objects
	}
	var wg sync.WaitGroup
	per := (len(b.ents) + workers - 1) / workers
	for i := 1; i < workers; i++ {
		chunk := b.ents[min(i*per, len(b.ents)):min((i+1)*per, len(b.ents))]
		ps := &b.stats[i]
		wg.Go(func() { statEnts(chunk, ps) })
	}
	statEnts(b.ents[:min(per, len(b.ents))], &b.stats[0])
	wg.Wait()
	return objects
}

// statEnts reads the metadata of the objects among ents with ps.
func statEnts(ents []pageEnt, ps *pageStat) {
	for i := range ents {
		if e := &ents[i]; !e.isPrefix && e.lf == nil {
			e.meta, e.direct, e.err = ps.statDirect(e.base, e.rel, e.key)
		}
	}
}

// Close releases the workers' directories.
func (b *pageBatch) Close() {
	for i := range b.stats {
		b.stats[i].Close()
	}
}
