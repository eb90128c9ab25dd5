package fsbackend

import (
	"context"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// patternReader yields n bytes from a fixed buffer without allocating.
type patternReader struct {
	buf []byte
	n   int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := copy(p, r.buf[:min(int64(len(r.buf)), r.n)])
	r.n -= int64(k)
	return k, nil
}

// putGet stores size bytes as key and reads them back.
func putGet(tb testing.TB, b *Backend, src []byte, size int64) {
	ctx := context.Background()
	r := &patternReader{buf: src, n: size}
	if _, err := b.PutObject(ctx, "bench", "some/key", r, size, storage.PutOptions{ContentType: "application/octet-stream"}); err != nil {
		tb.Fatal(err)
	}
	obj, err := b.GetObject(ctx, "bench", "some/key", storage.GetOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	n, err := io.Copy(io.Discard, obj.Body)
	_ = obj.Body.Close()
	if err != nil || n != size {
		tb.Fatalf("read %d of %d bytes: %v", n, size, err)
	}
}

func benchPutGet(b *testing.B, size int64) {
	be, _ := mustNew(b)
	mustBucket(b, be, "bench")
	src := pattern(64<<10, 5)
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		putGet(b, be, src, size)
	}
}

// BenchmarkPutGet4KiB measures a small put and get (dominated by fsync and
// metadata work).
func BenchmarkPutGet4KiB(b *testing.B) { benchPutGet(b, 4<<10) }

// BenchmarkPutGet64MiB measures streaming; allocs/op must match the 4 KiB
// case (no per-byte allocation).
func BenchmarkPutGet64MiB(b *testing.B) { benchPutGet(b, 64<<20) }

// TestAllocsIndependentOfBodySize checks that a put+get of 16 MiB
// allocates no more than one of 4 KiB (streaming, pooled buffers).
func TestAllocsIndependentOfBodySize(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	be, _ := mustNew(t)
	mustBucket(t, be, "bench")
	src := pattern(64<<10, 5)
	putGet(t, be, src, 1) // warm the buffer pool
	small := testing.AllocsPerRun(20, func() { putGet(t, be, src, 4<<10) })
	large := testing.AllocsPerRun(5, func() { putGet(t, be, src, 16<<20) })
	// A little slack for runtime noise (e.g. a pool refill after a GC).
	if large > small+3 {
		t.Fatalf("allocations grow with body size: %.0f for 4 KiB, %.0f for 16 MiB", small, large)
	}
	t.Logf("allocs per put+get: 4 KiB %.0f, 16 MiB %.0f", small, large)
}

// BenchmarkEntListWith: one insertion and one removal in the cached list of
// a directory of 1,000,000 entries (the cost dgp's own PUT and DELETE add
// to keep the listing cache), against a copy of a flat slice.
func BenchmarkEntListWith(b *testing.B) {
	names := make([]string, 1_000_000)
	for i := range names {
		names[i] = fmt.Sprintf("k%07d%%o", 2*i)
	}
	ents := decodeEntries(names)
	b.Run("chunked", func(b *testing.B) {
		l := newEntList(ents)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e, _ := entOf(fmt.Sprintf("k%07d%%o", 2*(i%1_000_000)+1))
			nl, err := l.with(e, true)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := nl.with(e, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("flat-copy", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e, _ := entOf(fmt.Sprintf("k%07d%%o", 2*(i%1_000_000)+1))
			j, _ := slices.BinarySearchFunc(ents, e, func(a, b dirEnt) int { return cmpEnt(&a, &b) })
			nl := slices.Insert(slices.Clone(ents), j, e)
			_ = slices.Delete(slices.Clone(nl), j, j+1)
		}
	})
}
