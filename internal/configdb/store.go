package configdb

import "sync/atomic"

// Store holds the current State. Readers (every S3 request) call Current
// without locks; the syncer swaps in a new snapshot atomically. The zero
// Store is not usable: call NewStore.
type Store struct {
	cur atomic.Pointer[State]
}

// NewStore returns a Store holding initial, or the Empty State when initial
// is nil.
func NewStore(initial *State) *Store {
	if initial == nil {
		initial = Empty()
	}
	st := &Store{}
	st.cur.Store(initial)
	return st
}

// Current returns the current snapshot. It never returns nil.
func (st *Store) Current() *State { return st.cur.Load() }

// Swap makes next the current snapshot and returns the previous one. A nil
// next is ignored (the current snapshot stays and is returned).
func (st *Store) Swap(next *State) (prev *State) {
	if next == nil {
		return st.cur.Load()
	}
	return st.cur.Swap(next)
}

// CompareAndSwap makes next current only if old is still current, and
// reports whether it did. A nil next is refused.
func (st *Store) CompareAndSwap(old, next *State) bool {
	if next == nil {
		return false
	}
	return st.cur.CompareAndSwap(old, next)
}
