package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
)

// The cold and after-a-write cases of the directory backend (--cold-rounds):
// each round opens a fresh backend on the filled data directory, in this
// process, and times ListObjects on the flat layout's prefix:
//
//   - "cold, no index": the first MaxKeys=1 after opening, with the
//     persisted directory indexes (<objects>/.index) removed first: what a
//     backend without them, or an old data directory, costs;
//   - "close (index write)": Close, which writes the pending indexes;
//   - "cold, index": the first MaxKeys=1 and a page of 1000 after the
//     middle key after opening again, with the index present;
//   - "after a PUT" / "after a DELETE": MaxKeys=1 and the middle page right
//     after dgp itself wrote (then removed) a key in the middle of the
//     directory, the directory cached.
//
// It uses only the storage.Backend API, so the same file measures older
// builds (which have no index: their "cold, index" is a second cold read).

type coldCase struct {
	name  string
	wall  []time.Duration
	alloc []uint64
}

type coldReport struct {
	order []string
	cases map[string]*coldCase
	heap  []uint64 // heap in use held by the backend after each round's cold-index listings
}

func (r *coldReport) add(name string, d time.Duration, alloc uint64) {
	c := r.cases[name]
	if c == nil {
		c = &coldCase{name: name}
		r.cases[name] = c
		r.order = append(r.order, name)
	}
	c.wall = append(c.wall, d)
	c.alloc = append(c.alloc, alloc)
}

// timed runs f and returns its wall time and the bytes allocated.
func timed(f func() error) (time.Duration, uint64, error) {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	start := time.Now()
	err := f()
	d := time.Since(start)
	runtime.ReadMemStats(&b)
	return d, b.TotalAlloc - a.TotalAlloc, err
}

func runColdListing(ctx context.Context, objects, bucket string, n, rounds int, stdout, stderr io.Writer) error {
	rep := &coldReport{cases: map[string]*coldCase{}}
	prefix := layoutFlat + "/"
	first := storage.ListOptions{Prefix: prefix, MaxKeys: 1}
	middle := storage.ListOptions{Prefix: prefix, Marker: listingKey(layoutFlat, n/2), MaxKeys: 1000}
	list := func(be *fsbackend.Backend, o storage.ListOptions, want int) func() error {
		return func() error {
			res, err := be.ListObjects(ctx, bucket, o)
			if err != nil {
				return err
			}
			if got := len(res.Objects) + len(res.CommonPrefixes); got != want {
				return fmt.Errorf("listing %+v: %d entries, want %d", o, got, want)
			}
			return nil
		}
	}
	step := func(name string, f func() error) error {
		d, alloc, err := timed(f)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rep.add(name, d, alloc)
		fmt.Fprintf(stderr, "dgp-bench: dir-api   %-45s %10s %10s alloc\n", name, fmtDur(float64(d)), fmtBytes(float64(alloc)))
		return nil
	}
	midPage := min(1000, n-n/2-1)
	for round := range rounds {
		// The previous round's PUT and DELETE changed the directory just
		// now; a directory changed within the cache's racy window (100 ms)
		// is read but not cached (nor indexed). A restart takes longer.
		time.Sleep(200 * time.Millisecond)
		if err := os.RemoveAll(filepath.Join(objects, ".index")); err != nil {
			return err
		}
		be, err := fsbackend.New("bench", objects, nil)
		if err != nil {
			return err
		}
		if err := step("cold, no index: MaxKeys=1", list(be, first, 1)); err != nil {
			return err
		}
		if err := step("close (writes the index)", be.Close); err != nil {
			return err
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap0 := ms.HeapInuse
		if be, err = fsbackend.New("bench", objects, nil); err != nil {
			return err
		}
		if err := step("cold, index: MaxKeys=1", list(be, first, 1)); err != nil {
			return err
		}
		if err := step("cold, index: 1000 after the middle", list(be, middle, midPage)); err != nil {
			return err
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		rep.heap = append(rep.heap, ms.HeapInuse-min(heap0, ms.HeapInuse))
		key := listingKey(layoutFlat, n/2) + fmt.Sprintf("-put%d", round)
		if err := step("PUT into the directory", func() error {
			_, err := be.PutObject(ctx, bucket, key, strings.NewReader("x"), 1, storage.PutOptions{})
			return err
		}); err != nil {
			return err
		}
		if err := step("after a PUT: MaxKeys=1", list(be, first, 1)); err != nil {
			return err
		}
		if err := step("after a PUT: 1000 after the middle", list(be, middle, midPage)); err != nil {
			return err
		}
		if err := step("DELETE from the directory", func() error {
			_, err := be.DeleteObject(ctx, bucket, key, storage.DeleteOptions{})
			return err
		}); err != nil {
			return err
		}
		if err := step("after a DELETE: MaxKeys=1", list(be, first, 1)); err != nil {
			return err
		}
		if err := step("close (writes the index)", be.Close); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\n### Cold and after-a-write listings (directory backend in-process, %d keys, flat)\n\n", n)
	fmt.Fprintf(stdout, "Median of %d rounds (all rounds in brackets); alloc is the median bytes allocated by the step.\n\n", rounds)
	fmt.Fprintln(stdout, "| step | time | rounds | alloc |")
	fmt.Fprintln(stdout, "|---|---|---|---|")
	for _, name := range rep.order {
		c := rep.cases[name]
		var all []string
		for _, d := range c.wall {
			all = append(all, fmtDur(float64(d)))
		}
		fmt.Fprintf(stdout, "| %s | %s | %s | %s |\n", name, fmtDur(float64(medianDur(c.wall))), strings.Join(all, ", "), fmtBytes(float64(medianU64(c.alloc))))
	}
	if len(rep.heap) > 0 {
		fmt.Fprintf(stdout, "\nHeap held by the backend after the cold-index listings (in use after GC, less before opening it): %s\n", fmtBytes(float64(medianU64(rep.heap))))
	}
	return nil
}

func medianDur(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianU64(vs []uint64) uint64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[len(s)/2]
}
