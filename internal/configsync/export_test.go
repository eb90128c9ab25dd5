package configsync

import (
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

// PollDelay exposes the jittered poll delay to the external tests.
func (s *Syncer) PollDelay() time.Duration { return s.pollDelay() }

// ConflictWait exposes the jittered wait after a lost compare-and-swap.
func (s *Syncer) ConflictWait(attempt int) time.Duration { return s.conflict.Delay(attempt) }

// Forget makes the syncer hold the empty state and no ETag, as a fresh
// instance does, so that the next pull downloads and applies (benchmarks).
func (s *Syncer) Forget() {
	s.xchg.Lock()
	defer s.xchg.Unlock()
	s.store.Swap(configdb.Empty())
	s.mu.Lock()
	s.etag, s.hdr, s.sealed = "", nil, nil
	s.mu.Unlock()
	s.unsaved = nil
}

// DefersLocalWrites reports whether pulls leave the local file write to
// Run (Run has started and not returned).
func DefersLocalWrites(s *Syncer) bool {
	s.xchg.Lock()
	defer s.xchg.Unlock()
	return s.deferSaves
}

// HeldSealed returns a copy of the sealed bytes of the DB s holds.
func HeldSealed(s *Syncer) []byte {
	_, _, sealed := s.held()
	return append([]byte(nil), sealed...)
}
