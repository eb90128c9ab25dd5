package configsync

import (
	"context"
	"errors"
	"time"

	"github.com/dgp-proxy/dgp/internal/notify"
)

var _ notify.Sink = (*Syncer)(nil)

// pendingPull is the trigger waiting for the loop; triggers arriving
// before it runs are coalesced into it.
type pendingPull struct {
	set bool
	t   trigger
}

// requestPull records a trigger and wakes the loop without ever blocking:
// the kick channel holds one wake-up, and a trigger arriving while a pull
// runs leaves it set, so the pull runs once more.
func (s *Syncer) requestPull(t trigger) {
	s.mu.Lock()
	if !s.pending.set {
		s.pending = pendingPull{set: true, t: t}
	} else if t.eventTime.After(s.pending.t.eventTime) {
		// Coalesced: the lag is measured from the latest event, the one
		// announcing the newest DB.
		s.pending.t.eventTime, s.pending.t.eventSource = t.eventTime, t.eventSource
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Hint implements notify.Sink: an event says the config object changed.
// A hint carrying the ETag this instance already holds does nothing;
// otherwise a pull is requested (source "event"). It never blocks.
func (s *Syncer) Hint(h notify.Hint, source string) {
	if s.bucket == nil {
		return
	}
	etag, _, _ := s.held()
	if e := normETag(h.ETag); e != "" && e == etag {
		s.log.Debug().Str("etag", e).Str("event_source", source).Msg("event hint for the db already held")
		return
	}
	s.requestPull(trigger{source: SourceEvent, eventTime: h.EventTime, eventSource: source})
}

// Resync implements notify.Sink: an event source (re)connected and may
// have missed events, so a pull is requested (source "reconnect"). It
// never blocks.
func (s *Syncer) Resync(source, reason string) {
	if s.bucket == nil {
		return
	}
	s.log.Debug().Str("event_source", source).Str("reason", reason).Msg("resync requested")
	s.requestPull(trigger{source: SourceReconnect, eventSource: source})
}

// PullPending runs the pull requested by hints and resyncs, if any, and
// reports whether there was one. It is the body of Run's trigger loop,
// exported so tests can drive it.
func (s *Syncer) PullPending(ctx context.Context) (PullResult, bool, error) {
	s.mu.Lock()
	p := s.pending
	s.pending = pendingPull{}
	s.mu.Unlock()
	if !p.set || s.bucket == nil {
		return PullResult{}, false, nil
	}
	res, err := s.pull(ctx, p.t)
	return res, true, err
}

// Poll runs one poll: a conditional GET against the held ETag (source
// "poll"; "startup" until a pull has reached the bucket since boot). While
// conditional writes have not been verified yet (the bucket was unreachable
// at boot), a writer runs the probe first. It is the body of Run's poll and
// retry loop, exported so tests can drive it. It returns ErrDisabled
// without a bucket.
func (s *Syncer) Poll(ctx context.Context) error {
	if s.bucket == nil {
		return ErrDisabled
	}
	return s.boot(ctx)
}

// SyncNow pulls at once (source "sync-now") and reports the outcome. It
// returns ErrDisabled without a sync bucket, an error wrapping
// ErrUnavailable and the cause when the bucket fails, and one wrapping
// ErrRejected when the bucket's DB was not applied. A declarative Syncer
// (Options.Declarative) pulls nothing and answers Status StatusDeclarative
// with the generation held.
func (s *Syncer) SyncNow(ctx context.Context) (PullResult, error) {
	if s.bucket == nil {
		if s.mode == ModeDeclarative {
			return PullResult{Generation: s.Current().Generation(), Status: StatusDeclarative}, nil
		}
		return PullResult{}, ErrDisabled
	}
	return s.pull(ctx, trigger{source: SourceSyncNow})
}

// pollDelay returns the poll interval with ±10% jitter.
func (s *Syncer) pollDelay() time.Duration {
	return time.Duration(float64(s.o.PollInterval) * (0.9 + 0.2*s.rand()))
}

// retryDelay returns the wait before the next background retry while the
// bucket is unreachable, or 0 when it is reachable.
func (s *Syncer) retryDelay() time.Duration {
	s.mu.Lock()
	n := s.failures
	s.mu.Unlock()
	return s.retry.Delay(n)
}

// fatal reports whether an error of Poll must stop the syncer: the bucket
// turned out not to work at all (it was unreachable at boot, so the probe
// ran late).
func fatal(err error) bool {
	return errors.Is(err, ErrNoConditionalWrites) || errors.Is(err, ErrBucketRefused)
}

// Run serves the triggers until ctx ends: pulls requested by hints and
// resyncs, the poll every PollInterval with ±10% jitter (none when 0), and
// retries with a capped backoff while the bucket is unreachable. While it
// runs, pulls leave the local file write to it: it writes the latest DB
// pulled once no pull has applied one for SaveDelay, at the latest
// SaveMaxDelay after the first unwritten one, and before it returns.
// It returns nil when ctx ends, or the error of a bucket found unusable
// (see Start) after an unreachable boot. Without a bucket it just waits
// for ctx.
func (s *Syncer) Run(ctx context.Context) error {
	if s.bucket == nil {
		<-ctx.Done()
		return nil
	}
	s.deferLocalWrites(true)
	defer s.deferLocalWrites(false)
	saveTimer := time.NewTimer(time.Hour)
	saveTimer.Stop()
	defer saveTimer.Stop()
	var saveC <-chan time.Time
	var saveBy time.Time // the latest time the pending write waits for
	var pollC <-chan time.Time
	var pollTimer *time.Timer
	armPoll := func() {
		if s.o.PollInterval <= 0 {
			return
		}
		d := s.pollDelay()
		s.mu.Lock()
		s.nextPoll = s.now().Add(d)
		s.mu.Unlock()
		if pollTimer == nil {
			pollTimer = time.NewTimer(d)
		} else {
			pollTimer.Reset(d)
		}
		pollC = pollTimer.C
	}
	armPoll()
	defer func() {
		if pollTimer != nil {
			pollTimer.Stop()
		}
	}()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var retryC <-chan time.Time
	for {
		if retryC == nil {
			if d := s.retryDelay(); d > 0 {
				retry.Reset(d)
				retryC = retry.C
			}
		}
		var err error
		select {
		case <-ctx.Done():
			return nil
		case <-s.kick:
			_, _, err = s.PullPending(ctx)
		case <-pollC:
			err = s.Poll(ctx)
			armPoll()
		case <-retryC:
			retryC = nil
			err = s.Poll(ctx)
		case <-s.save:
			// Written once pulls have stopped for SaveDelay, and at the
			// latest SaveMaxDelay after the first unwritten one.
			now := time.Now()
			if saveC == nil {
				saveBy = now.Add(s.o.SaveMaxDelay)
			}
			saveTimer.Reset(max(0, min(s.o.SaveDelay, saveBy.Sub(now))))
			saveC = saveTimer.C
		case <-saveC:
			saveC = nil
			s.saveUnsaved()
		}
		if ctx.Err() != nil {
			return nil
		}
		if fatal(err) {
			s.log.Error().Err(err).Str("bucket", s.o.BucketName).Msg("sync bucket cannot be used: stopping")
			return err
		}
	}
}
