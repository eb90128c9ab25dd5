package fsbackend

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// TestListObjectsParallelBatches lists pages whose objects are read by
// several workers and spread over more directories than one batch keeps
// open, with sizes on both sides of the one-read limit (tailRead), and
// compares keys, common prefixes, continuation and sizes with the
// reference, at every worker count.
func TestListObjectsParallelBatches(t *testing.T) {
	b, _ := mustNew(t)
	b.noSync = true
	mustBucket(t, b, "bkt")
	var keys []string
	sizes := map[string]int64{}
	put := func(key string, size int) {
		mustPut(t, b, "bkt", key, strings.Repeat("x", size))
		keys = append(keys, key)
		sizes[key] = int64(size)
	}
	for i := range 1500 { // 2 keys a directory: a page spans 500 of them
		put(fmt.Sprintf("d/%04d/a", i), 3900+i%300)
		put(fmt.Sprintf("d/%04d/b", i), i%5)
	}
	for i := range 400 {
		size := 7
		if i%9 == 0 {
			size = 5000
		}
		put(fmt.Sprintf("f/%04d", i), size)
	}
	slices.Sort(keys)
	for _, workers := range []int{1, 2, maxStatWorkers} {
		b.statWorkers = workers
		for _, o := range []storage.ListOptions{
			{MaxKeys: 1000},
			{MaxKeys: 1000, Prefix: "d/"},
			{MaxKeys: 1000, Prefix: "d/", Delimiter: "/"},
			{MaxKeys: 700, Delimiter: "a"},
			{MaxKeys: 1000, Marker: "d/0999/b"},
			{MaxKeys: 1000, Prefix: "f/"},
		} {
			for {
				res, err := b.ListObjects(context.Background(), "bkt", o)
				if err != nil {
					t.Fatalf("%d workers, ListObjects(%+v): %v", workers, o, err)
				}
				got := page{Prefixes: res.CommonPrefixes, Truncated: res.IsTruncated, Next: res.NextMarker}
				for _, obj := range res.Objects {
					got.Keys = append(got.Keys, obj.Key)
					if obj.Size != sizes[obj.Key] {
						t.Fatalf("%d workers: %s listed with size %d, want %d", workers, obj.Key, obj.Size, sizes[obj.Key])
					}
				}
				if want := referenceList(keys, o); !equalPage(got, want) {
					t.Fatalf("%d workers, ListObjects(%+v):\ngot  %v\nwant %v", workers, o, got, want)
				}
				if !res.IsTruncated {
					break
				}
				o.Marker = res.NextMarker
			}
		}
	}
}
