package configsync

import "time"

// PollDelay exposes the jittered poll delay to the external tests.
func (s *Syncer) PollDelay() time.Duration { return s.pollDelay() }

// ConflictWait exposes the jittered wait after a lost compare-and-swap.
func (s *Syncer) ConflictWait(attempt int) time.Duration { return s.conflictWait(attempt) }
