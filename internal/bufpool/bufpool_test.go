package bufpool

import (
	"bytes"
	"runtime"
	"testing"
)

func TestGetIsEmptyAndLargeBuffersAreDropped(t *testing.T) {
	p := Pool{Max: 64}
	b := p.Get()
	b.WriteString("left over")
	p.Put(b)
	for range 3 {
		if got := p.Get(); got.Len() != 0 {
			t.Fatalf("Get returned %q, want an empty buffer", got.String())
		}
	}
	big := bytes.NewBuffer(make([]byte, 0, 1024))
	p.Put(big)
	for range 3 {
		if p.Get() == big {
			t.Fatal("a buffer past Max came back")
		}
	}
	var zero Pool
	zero.Put(big) // any size
	if b := zero.Get(); b.Len() != 0 {
		t.Fatalf("zero Pool: %q", b.String())
	}
}

// TestKeptBuffersSurviveCollections: the first Keep buffers handed back
// come back after garbage collections (which empty the sync.Pool), empty;
// one past Max is not kept.
func TestKeptBuffersSurviveCollections(t *testing.T) {
	p := Pool{Max: 1 << 20, Keep: 2}
	a, b, c := p.Get(), p.Get(), p.Get()
	for _, x := range []*bytes.Buffer{a, b, c} {
		x.WriteString("data")
	}
	big := bytes.NewBuffer(make([]byte, 0, 2<<20))
	p.Put(big)
	p.Put(a)
	p.Put(b)
	p.Put(c) // past Keep: to the sync.Pool
	runtime.GC()
	runtime.GC()
	got := map[*bytes.Buffer]bool{}
	for range 2 {
		x := p.Get()
		if x.Len() != 0 {
			t.Fatalf("kept buffer not empty: %q", x.String())
		}
		got[x] = true
	}
	if !got[a] || !got[b] {
		t.Fatalf("the kept buffers did not come back after collections")
	}
	if x := p.Get(); x == big {
		t.Fatal("a buffer past Max came back")
	}
}
