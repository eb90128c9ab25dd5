// Package gcfloor keeps the garbage collector from running every few
// megabytes when the live heap is small.
//
// With GOGC=100 the runtime starts a collection once the heap has grown by
// as much as was live after the previous one (at least 4 MiB in all). An
// idle dgp holds about 3 MiB, so a reader that allocates ~80 KiB per IAM
// change collects every few dozen changes, and on a virtual machine each
// collection (its workers woken, two short pauses) costs more than the
// change. After every collection the floor sets the GC percent so that the
// next collection waits for at least Floor bytes of new allocation: the
// heap goal is max(live × (1 + base/100), live + Floor), where base is the
// percent in force at Start (100 unless GOGC says otherwise). A live heap
// above Floor × 100/base is collected exactly as without the floor. The
// goal lags one collection: a live heap that grows suddenly overshoots by
// at most Floor before the next collection sets the percent back.
//
// The GC percent is one setting of the whole process: only the program's
// main sets a floor (cmd/dgp's serve), never a library.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

const (
	// DefaultFloor is the default Floor: 16 MiB. An idle reader (about
	// 80 KiB an IAM change) is then collected every 200 changes or so,
	// where GOGC=100 collected it every few dozen. It was 64 MiB (the
	// size of the DB key derivation's work area): on a 2-core VM that
	// made a gateway's 4 KiB PUTs cost 1.36-1.47x the bare proxy's CPU in
	// 4 of 6 runs, against 1.01-1.07x at 16 MiB and without a floor
	// (docs/benchmarks.md, issue 17, tenth pass).
	DefaultFloor = 16 << 20
	// MaxPercent bounds the percent the floor sets.
	MaxPercent = 10000
)

// liveMetric is the heap marked live by the last collection.
const liveMetric = "/gc/heap/live:bytes"

// Floor is a running floor; Stop removes it.
type Floor struct {
	floor uint64
	base  int
	// set is debug.SetGCPercent (a test may watch it).
	set func(int) int

	mu      sync.Mutex
	stopped bool
	percent int // the percent last set (base before the first collection)
	sample  []metrics.Sample
}

// Start sets a floor of floor bytes (0: DefaultFloor) and returns it, or
// nil when none applies: GOGC is set in the environment (the operator's
// choice is kept as it is) or the collector is off.
func Start(floor uint64) *Floor {
	if _, set := os.LookupEnv("GOGC"); set {
		return nil
	}
	return start(floor, debug.SetGCPercent)
}

func start(floor uint64, set func(int) int) *Floor {
	if floor == 0 {
		floor = DefaultFloor
	}
	base := set(100) // reads the percent in force (and puts it back below)
	set(base)
	if base <= 0 {
		return nil
	}
	f := &Floor{floor: floor, base: base, set: set, percent: base,
		sample: []metrics.Sample{{Name: liveMetric}}}
	f.arm()
	return f
}

// Percent is the GC percent the floor set last.
func (f *Floor) Percent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.percent
}

// Stop removes the floor and puts back the percent in force at Start. It
// is safe to call on a nil Floor and more than once.
func (f *Floor) Stop() {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.stopped = true
	if f.percent != f.base {
		f.set(f.base)
		f.percent = f.base
	}
}

// token is an object the collector frees at the next collection: its
// cleanup is the floor's hook into every collection. (Large enough not to
// share a tiny-allocator block, whose cleanups may never run.)
type token struct{ _ [32]byte }

// arm registers the hook for the next collection.
func (f *Floor) arm() {
	runtime.AddCleanup(new(token), func(f *Floor) { f.collected() }, f)
}

// collected runs after a collection (on the runtime's cleanup goroutine):
// it sets the percent for the next goal and arms the hook again.
func (f *Floor) collected() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	metrics.Read(f.sample)
	if s := f.sample[0]; s.Value.Kind() == metrics.KindUint64 {
		if p := percentFor(s.Value.Uint64(), f.floor, f.base); p != f.percent {
			f.set(p)
			f.percent = p
		}
	}
	f.arm()
}

// percentFor is the GC percent that makes the heap goal after a
// collection that left live bytes at least live + floor, and never below
// base: max(base, ⌈floor × 100 / live⌉), at most MaxPercent.
func percentFor(live, floor uint64, base int) int {
	p := uint64(MaxPercent)
	if live > 0 {
		p = min(p, (floor*100+live-1)/live)
	}
	return max(base, int(p))
}
