package fsbackend

import (
	"fmt"
	"strings"
	"testing"
)

// TestListingPaceFromDisk: while the batches are taken to wait on the
// device (readPace), a page's objects are read by up to ioStatWorkers
// workers; the pages stay what HEAD reports, whatever the page size, and
// listers running together (-race) each get the whole listing in order.
func TestListingPaceFromDisk(t *testing.T) {
	b, _ := mustNew(t)
	b.noSync = true
	mustBucket(t, b, "bkt")
	want := map[string]bool{}
	for i := range 700 {
		// Folders of ten keys carry no listing fields: every object is read.
		k := fmt.Sprintf("d/%02d/%03d", i/10, i)
		mustPut(t, b, "bkt", k, strings.Repeat("x", i))
		want[k] = true
	}
	b.pace.perObject = 0 // every batch reads as if from disk
	b.pace.slow.Store(true)
	for _, ps := range []int{1000, 333, 17} {
		checkListedAsHead(t, b, want, ps)
	}
	if b.pace.wide.Load() == 0 {
		t.Fatal("no batch was read with more workers while reads were slow")
	}
	// Listers together: each must get the whole listing, in order.
	list := func() error {
		got, err := listPages(b, 250)
		if err != nil {
			return err
		}
		if len(got) != len(want) {
			return fmt.Errorf("listed %d objects, want %d", len(got), len(want))
		}
		return inOrder(got)
	}
	errs := raceListers(3, list, func() error {
		for range 10 {
			if err := list(); err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		t.Error(err)
	}
}
