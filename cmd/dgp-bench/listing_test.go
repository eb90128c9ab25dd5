package main

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
)

// TestListingKeysSortByIndex: the middle-page case relies on key i being
// the i-th in byte order.
func TestListingKeysSortByIndex(t *testing.T) {
	for _, layout := range []string{layoutFlat, layoutDeep} {
		var keys []string
		for i := range 2500 {
			keys = append(keys, listingKey(layout, i*397))
		}
		if !sort.StringsAreSorted(keys) {
			t.Errorf("%s keys do not sort like their index", layout)
		}
	}
}

// TestFillDirectoryReadByBackend: the files the bench writes are objects
// the directory backend lists and reads as its own.
func TestFillDirectoryReadByBackend(t *testing.T) {
	root := t.TempDir()
	be, err := fsbackend.New("t", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	ctx := context.Background()
	if err := be.CreateBucket(ctx, "b", storage.CreateBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	const n = 120
	if err := fillDirectory(ctx, filepath.Join(root, "b"), n, []string{layoutFlat, layoutDeep}, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, layout := range []string{layoutFlat, layoutDeep} {
		res, err := be.ListObjects(ctx, "b", storage.ListOptions{Prefix: layout + "/", MaxKeys: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for i := range n {
			want = append(want, listingKey(layout, i))
		}
		for _, o := range res.Objects {
			got = append(got, o.Key)
			if o.Size != int64(len(fillBody)) || o.ETag != `"9dd4e461268c8034f5c8564e155c67a6"` {
				t.Fatalf("%s: size %d etag %s", o.Key, o.Size, o.ETag)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: listed %d keys, want %d", layout, len(got), len(want))
		}
	}
	obj, err := be.GetObject(ctx, "b", listingKey(layoutDeep, 77), storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(body) != fillBody {
		t.Fatalf("body %q", body)
	}
	// A second fill of the same size is skipped.
	if err := fillDirectory(ctx, filepath.Join(root, "b"), n, []string{layoutFlat, layoutDeep}, io.Discard); err != nil {
		t.Fatal(err)
	}
}

func TestExpectedEntries(t *testing.T) {
	for _, c := range []struct {
		c    listingCase
		n    int
		want int
	}{
		{listingCase{layout: layoutFlat, kind: "first"}, 50000, 1},
		{listingCase{layout: layoutFlat, kind: "middle"}, 50000, 1000},
		{listingCase{layout: layoutFlat, kind: "middle"}, 100, 49},
		{listingCase{layout: layoutFlat, kind: "full", delimiter: "/"}, 50000, 50000},
		{listingCase{layout: layoutDeep, kind: "full", delimiter: "/"}, 50000, 1},
		{listingCase{layout: layoutDeep, kind: "full", delimiter: "/"}, 1000000, 10},
		{listingCase{layout: layoutDeep, kind: "middle", delimiter: "/"}, 1000000, -1},
	} {
		if got := expectedEntries(c.c, c.n); got != c.want {
			t.Errorf("%s n=%d: %d, want %d", c.c.title(), c.n, got, c.want)
		}
	}
}
