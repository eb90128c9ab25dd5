package bufpool

import (
	"bytes"
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
