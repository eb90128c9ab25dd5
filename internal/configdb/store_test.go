package configdb

import (
	"sync"
	"testing"
)

func TestStore(t *testing.T) {
	st := NewStore(nil)
	if st.Current() == nil || st.Current().NumUsers() != 0 {
		t.Fatal("NewStore(nil) should hold the empty state")
	}
	a := sample(t)
	b := a.WithGeneration(2)
	if prev := st.Swap(a); prev.NumUsers() != 0 {
		t.Error("Swap returned the wrong previous state")
	}
	if st.Current() != a {
		t.Error("Swap did not install the state")
	}
	if prev := st.Swap(nil); prev != a || st.Current() != a {
		t.Error("Swap(nil) must keep the current state")
	}
	if st.CompareAndSwap(b, b) {
		t.Error("CompareAndSwap with a stale old succeeded")
	}
	if !st.CompareAndSwap(a, b) || st.Current() != b {
		t.Error("CompareAndSwap failed")
	}
	if st.CompareAndSwap(b, nil) || st.Current() != b {
		t.Error("CompareAndSwap accepted nil")
	}
}

// TestStoreConcurrent exercises lock-free readers against a swapping
// writer (meaningful under -race).
func TestStoreConcurrent(t *testing.T) {
	base := sample(t)
	st := NewStore(base)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				s := st.Current()
				if cu, ok := s.Lookup("AKIAALICE0000000000A"); !ok || !cu.Allowed("read", "shared", "k") {
					t.Error("reader saw a state without alice")
					return
				}
			}
		}()
	}
	for i := range 200 {
		st.Swap(base.WithGeneration(uint64(i)))
	}
	wg.Wait()
}
