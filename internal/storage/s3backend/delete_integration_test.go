//go:build integration

package s3backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// TestDeleteObjectsMatchesDeleteObjectOnMinIO: two versioned buckets with
// the same history; the same deletes, in one batch on the first and key
// by key on the second, have the same outcomes (markers created and
// removed, versions removed, missing keys and versions, a malformed
// version id, a key named twice) and leave the same versions behind.
func TestDeleteObjectsMatchesDeleteObjectOnMinIO(t *testing.T) {
	b := mustBackend(t)
	ctx := context.Background()
	keys := []string{"a", "b", "c", "d/e", "sp ace&<>'\"é"}
	type twin struct {
		bucket   string
		versions map[string][]string // key -> version ids, oldest first
	}
	twins := make([]*twin, 2)
	for i := range twins {
		tw := &twin{bucket: mustBucket(t, b), versions: map[string][]string{}}
		mustVersioning(t, b, tw.bucket, storage.VersioningEnabled)
		for round := range 2 {
			for _, k := range keys {
				res := mustPut(t, b, tw.bucket, k, []byte(fmt.Sprint(round)), storage.PutOptions{})
				tw.versions[k] = append(tw.versions[k], res.VersionID)
			}
		}
		twins[i] = tw
	}
	// The deletes, by the versions' places in each bucket's history.
	type del struct {
		key     string
		version int    // -1: a plain delete
		literal string // a version id as it is
	}
	rounds := [][]del{
		{{key: "a", version: -1}, {key: "b", version: 0}, {key: "c", version: -1}, {key: "missing", version: -1},
			{key: "a", version: 1}, {key: "d/e", version: -1}, {key: "d/e", version: -1}, {key: "b", version: -1, literal: missingVersion},
			{key: "c", version: -1, literal: "not-a-version"}, {key: "sp ace&<>'\"é", version: 1}},
	}
	outcome := func(r storage.DeleteResult, err error, asked string) string {
		if err != nil {
			var se *s3err.Error
			if errors.As(err, &se) {
				return "error " + se.Code
			}
			return "error " + err.Error()
		}
		// What the client's <Deleted> entry says: the version asked for,
		// and the delete marker created or removed.
		if !r.DeleteMarker {
			return "deleted"
		}
		if r.VersionID == asked && asked != "" {
			return "marker removed"
		}
		return "marker created"
	}
	versionOf := func(tw *twin, d del) string {
		switch {
		case d.literal != "":
			return d.literal
		case d.version >= 0:
			return tw.versions[d.key][d.version]
		}
		return ""
	}
	// A second round removes the delete marker the first put on "a".
	for ri := 0; ri < len(rounds)+1; ri++ {
		var got [2][]string
		var dels []del
		if ri < len(rounds) {
			dels = rounds[ri]
		}
		for ti, tw := range twins {
			var objs []storage.ObjectToDelete
			if ri == len(rounds) {
				res, err := b.ListObjectVersions(ctx, tw.bucket, storage.ListVersionsOptions{Prefix: "a", MaxKeys: 10})
				if err != nil || len(res.Versions) == 0 || !res.Versions[0].DeleteMarker {
					t.Fatalf("no delete marker on a: %+v %v", res, err)
				}
				objs = []storage.ObjectToDelete{{Key: "a", VersionID: res.Versions[0].VersionID}}
				dels = []del{{key: "a", version: -1, literal: res.Versions[0].VersionID}}
			} else {
				for _, d := range dels {
					objs = append(objs, storage.ObjectToDelete{Key: d.key, VersionID: versionOf(tw, d)})
				}
			}
			if ti == 0 {
				out, err := b.DeleteObjects(ctx, tw.bucket, objs, false)
				if err != nil {
					t.Fatalf("round %d: DeleteObjects: %v", ri, err)
				}
				for i, o := range out {
					if errors.Is(o.Err, storage.ErrNotBatched) { // the caller's to delete (as dgp's handler does)
						var r *storage.DeleteResult
						if r, o.Err = b.DeleteObject(ctx, tw.bucket, objs[i].Key, storage.DeleteOptions{VersionID: objs[i].VersionID}); r != nil {
							o.Result = *r
						}
					}
					got[ti] = append(got[ti], outcome(o.Result, o.Err, objs[i].VersionID))
				}
				continue
			}
			for _, o := range objs {
				r, err := b.DeleteObject(ctx, tw.bucket, o.Key, storage.DeleteOptions{VersionID: o.VersionID})
				var res storage.DeleteResult
				if r != nil {
					res = *r
				}
				got[ti] = append(got[ti], outcome(res, err, o.VersionID))
			}
		}
		// Where MinIO's DeleteObjects and DeleteObject differ, the batch
		// gives DeleteObjects' answer (a client of MinIO gets the same):
		// a plain delete of a key that never existed makes a delete
		// marker (as S3 does; MinIO's DeleteObject makes none). (Deletes
		// naming a version go one by one: see DeleteObjects.)
		for i, d := range dels {
			if d.key != "missing" {
				continue
			}
			if got[0][i] != "marker created" {
				t.Errorf("round %d: batch delete of a missing key: %s", ri, got[0][i])
			}
			got[0][i], got[1][i] = "(differs on MinIO)", "(differs on MinIO)"
		}
		if !reflect.DeepEqual(got[0], got[1]) {
			t.Fatalf("round %d:\nbatch    %q\none by one %q", ri, got[0], got[1])
		}
		t.Logf("round %d outcomes: %q", ri, got[0])
	}
	// The same shape of history is left.
	var left [2][]string
	for ti, tw := range twins {
		res, err := b.ListObjectVersions(ctx, tw.bucket, storage.ListVersionsOptions{MaxKeys: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range res.Versions {
			if v.Key == "missing" { // a marker in the batch's bucket only (above)
				continue
			}
			left[ti] = append(left[ti], fmt.Sprintf("%s latest=%t marker=%t", v.Key, v.IsLatest, v.DeleteMarker))
		}
	}
	if !reflect.DeepEqual(left[0], left[1]) {
		t.Fatalf("left behind:\nbatch    %q\none by one %q", left[0], left[1])
	}
}

// BenchmarkDeleteObjectsOnMinIO: deleting 1,000 objects of MinIO in one
// batch (DeleteObjects) and one by one, 16 at a time (as dgp's
// DeleteObjects did before backends deleted in batches). The objects are
// put again before each round, off the clock.
//
//	DGP_TEST_MINIO=... go test -tags integration ./internal/storage/s3backend -run XXX -bench DeleteObjectsOnMinIO -benchtime 5x
func BenchmarkDeleteObjectsOnMinIO(b *testing.B) {
	be := mustBackend(b)
	bucket := mustBucket(b, be)
	ctx := context.Background()
	objs := make([]storage.ObjectToDelete, 1000)
	for i := range objs {
		objs[i].Key = fmt.Sprintf("dir/k%04d", i)
	}
	fill := func() {
		var g errgroup.Group
		g.SetLimit(16)
		for _, o := range objs {
			g.Go(func() error {
				_, err := be.PutObject(ctx, bucket, o.Key, bytes.NewReader([]byte("x")), 1, storage.PutOptions{})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("batch", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			fill()
			b.StartTimer()
			out, err := be.DeleteObjects(ctx, bucket, objs, false)
			if err != nil || len(out) != len(objs) {
				b.Fatal(err)
			}
		}
	})
	b.Run("one-by-one", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			fill()
			b.StartTimer()
			var g errgroup.Group
			g.SetLimit(16)
			for _, o := range objs {
				g.Go(func() error {
					_, err := be.DeleteObject(ctx, bucket, o.Key, storage.DeleteOptions{})
					return err
				})
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
