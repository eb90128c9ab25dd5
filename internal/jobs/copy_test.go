package jobs

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// objectStore is a directory backend seen as an object store (not an
// *fsbackend.Backend): large copies to it go in parts.
type objectStore struct{ storage.Backend }

// partsWorld is newWorld with the destination backend "b" an objectStore.
func partsWorld(t *testing.T) *world {
	t.Helper()
	a, err := fsbackend.New("a", t.TempDir(), time.Now)
	testutil.Must(t, err, "backend a")
	fb, err := fsbackend.New("b", t.TempDir(), time.Now)
	testutil.Must(t, err, "backend b")
	r, err := storage.NewRouter([]storage.Backend{a, objectStore{fb}}, "a", map[string]storage.Route{"dst": {Backend: "b"}})
	testutil.Must(t, err, "router")
	ctx := context.Background()
	testutil.Must(t, a.CreateBucket(ctx, "src", storage.CreateBucketOptions{}), "create src")
	testutil.Must(t, fb.CreateBucket(ctx, "dst", storage.CreateBucketOptions{}), "create dst")
	return &world{t: t, router: r, state: t.TempDir(), logs: &bytes.Buffer{}}
}

func randomBody(t *testing.T, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	testutil.Must(t, err, "random")
	return string(b)
}

func TestPartSize(t *testing.T) {
	for _, c := range []struct{ size, want int64 }{
		{PartThreshold, PartSize},
		{PartSize * maxParts, PartSize},
		{PartSize*maxParts + 1, PartSize + 1},
	} {
		if got := partSize(c.size); got != c.want {
			t.Errorf("partSize(%d) = %d, want %d", c.size, got, c.want)
		}
		if n := (c.size + partSize(c.size) - 1) / partSize(c.size); n > maxParts {
			t.Errorf("%d bytes: %d parts", c.size, n)
		}
	}
}

// TestLargeCopiesGoInParts: objects from PartThreshold on arrive whole
// and byte-identical, with their metadata, as multipart uploads (an ETag
// "-N"); smaller ones as one put; a directory destination never in parts.
func TestLargeCopiesGoInParts(t *testing.T) {
	w := partsWorld(t)
	bodies := map[string]string{
		"big":   randomBody(t, 2*PartSize+12345), // three parts, the last short
		"exact": randomBody(t, PartThreshold),
		"small": "small",
	}
	for k, b := range bodies {
		w.put("src", "in/"+k, b, map[string]string{"k": k})
	}
	e := w.engine("n1", rule("r1"))
	start(t, e)
	testutil.RetryUntil(t, 30*time.Second, func() error { return same(w.contents("dst", "out/"), w.contents("src", "in/")) })
	db, dname := w.router.Resolve("dst")
	for k, parts := range map[string]string{"big": "-3", "exact": "-2", "small": ""} {
		info, err := db.HeadObject(context.Background(), dname, "out/"+k, storage.GetOptions{})
		testutil.Must(t, err, "head %s", k)
		if info.ContentType != "text/x-test" || info.UserMetadata["k"] != k {
			t.Errorf("%s: metadata not kept: %q %v", k, info.ContentType, info.UserMetadata)
		}
		if multipart := strings.Contains(info.ETag, "-"); multipart != (parts != "") || !strings.HasSuffix(strings.Trim(info.ETag, `"`), parts) {
			t.Errorf("%s: ETag %s, want parts %q", k, info.ETag, parts)
		}
	}
	testutil.RetryUntil(t, 20*time.Second, func() error {
		st, err := e.Get(context.Background(), "replication:r1")
		want := int64(len(bodies["big"]) + len(bodies["exact"]) + len(bodies["small"]))
		if err != nil || st.Totals.Copied != 3 || st.Totals.Bytes != want {
			return fmt.Errorf("counters: %+v %v", st.Totals, err)
		}
		return nil
	})

	fb, _ := w.router.Resolve("src")
	if inParts(fb, PartThreshold) || !inParts(db, PartThreshold) || inParts(db, PartThreshold-1) {
		t.Fatal("inParts: a directory backend, or a small object, in parts")
	}
}

// fenceAfter is a Fence that refuses from its n+1th check on.
type fenceAfter struct{ n int }

func (f *fenceAfter) Token() uint64 { return 1 }
func (f *fenceAfter) Check() error {
	if f.n <= 0 {
		return fmt.Errorf("%w: test", lease.ErrFenced)
	}
	f.n--
	return nil
}

// TestPartsFencedAtCompleteLeaveNothing: a holder fenced after its parts
// are up completes nothing and aborts the upload; a source changed under
// the copy (another ETag) fails it the same way.
func TestPartsFencedAtCompleteLeaveNothing(t *testing.T) {
	w := partsWorld(t)
	body := randomBody(t, PartThreshold+1)
	w.put("src", "in/big", body, nil)
	e := w.engine("n1", rule("r1"))
	r := e.byID["replication:r1"].repl
	sb, sbk, db, dbk := r.sides()
	ctx := context.Background()
	a := action{op: "copy", src: "in/big", dst: "out/big"}

	copyWith := func(f lease.Fence, change bool) error {
		obj, err := sb.GetObject(ctx, sbk, a.src, storage.GetOptions{})
		testutil.Must(t, err, "get")
		defer obj.Body.Close()
		if change {
			w.put("src", "in/big", randomBody(t, PartThreshold+1), nil)
		}
		_, err = r.copyParts(ctx, f, sb, sbk, db, dbk, a, obj)
		return err
	}
	if err := copyWith(&fenceAfter{n: 1}, false); !errors.Is(err, lease.ErrFenced) {
		t.Fatalf("fenced at complete: %v", err)
	}
	if err := copyWith(&fenceAfter{n: 2}, true); err == nil || errors.Is(err, lease.ErrFenced) {
		t.Fatalf("source changed under the copy: %v", err)
	}
	if _, err := db.HeadObject(ctx, dbk, a.dst, storage.GetOptions{}); err == nil {
		t.Fatal("an object arrived")
	}
	ups, err := db.ListMultipartUploads(ctx, dbk, storage.ListUploadsOptions{})
	testutil.Must(t, err, "list uploads")
	if len(ups.Uploads) != 0 {
		t.Fatalf("uploads left: %+v", ups.Uploads)
	}
}
