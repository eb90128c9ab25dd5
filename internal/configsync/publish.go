package configsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgp-proxy/dgp/internal/backoff"
	"github.com/dgp-proxy/dgp/internal/configdb"
)

// Publish applies op to the newest config DB and makes the result the
// fleet's DB, then this instance's snapshot and local file. It returns the
// new snapshot once the sync bucket holds it: the caller hears "done" only
// then.
//
// With a sync bucket: one Publish at a time per instance, taking turns
// with pulls; the base is the
// bucket's DB (or the held snapshot when it is current); the result, at
// the base's generation + 1 and in the schema of the write-schema policy
// (Options.WriteSchema), is written with If-Match on the base's ETag
// (If-None-Match: * when there is no object yet). A 412 means another
// instance published first: the op is applied again to the new base
// (rebase) after a jittered wait, at most MaxPublishAttempts times.
//
// Errors: ErrReadOnly on a reader; the op's own error (wrapping
// configdb.ErrConflict, ErrNotFound or ErrInvalid) when it does not apply
// to the newest base; ErrMidUpgrade when the bucket holds a schema this
// binary cannot read, or holds (or this instance holds, without a bucket)
// a newer one it reads but must not rewrite;
// ErrUnavailable (wrapping the cause) when the bucket cannot be reached,
// holds a DB this instance cannot verify, or kept winning the race past
// the bound; ErrOutcomeUnknown when a PUT got no answer and the bucket
// could not be read back to tell whether it landed. On any error but
// ErrOutcomeUnknown nothing changed, in the bucket or here (except that
// a newer DB fetched from the bucket may be adopted, as a pull would).
//
// An op that changes nothing (Apply returns its base) publishes nothing and
// returns the current snapshot. Without a bucket the op is applied to the
// snapshot, the generation incremented and the local file written.
func (s *Syncer) Publish(ctx context.Context, op configdb.Op) (*configdb.State, error) {
	if s.o.Role == RoleReader {
		s.m.publishes.WithLabelValues(PublishReadOnly).Inc()
		if s.o.WriterURL != "" {
			return nil, fmt.Errorf("%w: make IAM changes on the writer at %s", ErrReadOnly, s.o.WriterURL)
		}
		return nil, fmt.Errorf("%w: make IAM changes on the writer instance", ErrReadOnly)
	}
	s.xchg.Lock()
	defer s.xchg.Unlock()
	start := time.Now()
	if s.bucket == nil {
		return s.publishLocal(op, start)
	}
	return s.publishBucket(ctx, op, start)
}

// publishLocal is Publish without a sync bucket.
func (s *Syncer) publishLocal(op configdb.Op, start time.Time) (*configdb.State, error) {
	cur := s.Current()
	if _, held, _ := s.held(); held != nil && held.Newer() {
		err := fmt.Errorf("publish config db: %w", newerSchemaErr(*held))
		s.recordPublish(PublishMidUpgrade, 0, 0, err)
		s.log.Warn().Err(err).Str("op", op.Describe()).Msg("config db not saved")
		return nil, err
	}
	next, err := op.Apply(cur, s.now())
	if err != nil {
		s.recordPublish(PublishRejected, 0, 0, err)
		return nil, err
	}
	if next == cur {
		s.recordPublish(PublishNoop, cur.Generation(), 0, nil)
		return cur, nil
	}
	next = next.WithGeneration(cur.Generation() + 1)
	_, held, _ := s.held()
	opts := s.sealOpts(held)
	sealed, err := configdb.Seal(next, opts, s.keys, s.o.Secret)
	if err == nil {
		err = s.installLocal(next, sealed)
	}
	if err != nil {
		err = fmt.Errorf("publish config db: %w", err)
		s.recordPublish(PublishLocalError, 0, 1, err)
		s.log.Error().Err(err).Str("op", op.Describe()).Msg("config db not saved")
		return nil, err
	}
	s.recordPublish(PublishOK, next.Generation(), 1, nil)
	s.logSchemaChange(held, opts.Schema, next.Generation())
	s.log.Info().Uint64("generation", next.Generation()).Str("op", op.Describe()).Int("schema", opts.Schema).
		Int64("duration_ms", time.Since(start).Milliseconds()).Msg("config db saved locally")
	return next, nil
}

// installLocal writes the local file first and swaps only when it was
// written: without a bucket, the file is the only durable copy.
func (s *Syncer) installLocal(next *configdb.State, sealed []byte) error {
	h, err := configdb.ReadHeader(sealed)
	if err != nil {
		return err
	}
	if err := configdb.WriteFile(s.o.LocalPath, sealed); err != nil {
		return err
	}
	s.store.Swap(next)
	s.mu.Lock()
	s.hdr, s.sealed = &h, sealed
	s.mu.Unlock()
	s.m.setHeld(next.Generation(), h)
	return nil
}

// newerSchemaErr is ErrMidUpgrade for a DB of a newer schema that this
// binary reads but must not rewrite.
func newerSchemaErr(h configdb.Header) error {
	return fmt.Errorf("%w: the config db has schema %d (this binary reads it, from schema %d on, but supports schema %d at most); "+
		"rewriting it here would drop what this binary does not know: upgrade this instance", ErrMidUpgrade,
		h.Schema, h.MinReaderSchema, configdb.CurrentSchema)
}

// base is what a publish attempt applies its op to.
type base struct {
	state *configdb.State
	etag  string // If-Match; "" means If-None-Match: *
	hdr   *configdb.Header
	// fetched is the bucket's DB when the base came from it (adopted when
	// the op turns out not to apply).
	fetched *fetched
}

// newestBase is fetchBase, refusing a base of a newer schema than this
// binary's (ErrMidUpgrade): the State decoded from it lacks the fields this
// binary does not know, so sealing over it would lose them. A newer DB
// fetched from the bucket is adopted first, as a pull would.
func (s *Syncer) newestBase(ctx context.Context) (base, error) {
	b, err := s.fetchBase(ctx)
	if err != nil || b.hdr == nil || !b.hdr.Newer() {
		return b, err
	}
	s.adopt(b)
	return base{}, fmt.Errorf("publish config db: %w", newerSchemaErr(*b.hdr))
}

// fetchBase returns the newest base: the held snapshot when the bucket
// holds it (304) or holds nothing, else the bucket's DB with this
// instance's session revocations merged in. A bucket DB that is older than
// the held one (see olderThanHeld) is not built upon: the held snapshot is,
// and the publish overwrites the stale object.
func (s *Syncer) fetchBase(ctx context.Context) (base, error) {
	heldETag, held, _ := s.held()
	fr, err := s.fetch(ctx, heldETag)
	switch fr.kind {
	case fetchNotModified:
		s.succeeded()
		return base{state: s.Current(), etag: heldETag, hdr: held}, nil
	case fetchSame:
		s.succeeded()
		s.setETag(fr.f.etag)
		return base{state: s.Current(), etag: fr.f.etag, hdr: held}, nil
	case fetchEmpty:
		s.succeeded()
		return base{state: s.Current(), hdr: held}, nil
	case fetchUnavailable:
		s.failed()
		return base{}, fmt.Errorf("publish config db: %w", err)
	case fetchRejected:
		s.succeeded()
		if b, ok := s.overBroken(fr, err); ok {
			return b, nil
		}
		s.markStale()
		if fr.reason == ResultSchemaTooNew {
			return base{}, fmt.Errorf("publish config db: %w: %w", ErrMidUpgrade, err)
		}
		return base{}, fmt.Errorf("publish config db: %w: the sync bucket holds a db this instance cannot verify (%s), "+
			"so it is not overwritten: %w", ErrUnavailable, fr.reason, err)
	}
	s.succeeded()
	f := fr.f
	cur := s.Current()
	if olderThanHeld(f.hdr, cur.Generation(), held) {
		s.log.Warn().Str("etag", f.etag).Uint64("generation", f.hdr.Generation).Uint64("current_generation", cur.Generation()).
			Msg("the sync bucket holds an older config db: publishing over it")
		return base{state: cur, etag: f.etag, hdr: held}, nil
	}
	st, _, err := mergeForward(f.state, cur, s.revocationHorizon())
	if err != nil {
		return base{}, fmt.Errorf("publish config db: %w", err)
	}
	h := f.hdr
	return base{state: st, etag: f.etag, hdr: &h, fetched: f}, nil
}

// overBroken returns the base that publishes over a structurally broken
// object in the sync key (truncated, malformed: configdb's ErrTruncated,
// ErrMalformed, ErrBadMagic), which cannot be a valid DB of any fleet
// under any secret, so that a torn copy or a foreign write does not block
// every mutation of the fleet until an operator restores the object: the
// held snapshot, at its next generation, written with If-Match on the
// broken object's ETag.
//
// Only when the object's header is whole and says what the object was:
// the very DB this instance holds (same generation and nonce: a torn copy
// of it), or one older than it (see olderThanHeld). Then the held snapshot
// holds everything the broken object held, and publishing over it loses
// nothing. An object whose header cannot be read (garbage, bad magic, cut
// inside the header) may have replaced a DB newer than the one held here,
// with changes other instances acknowledged: publishing the held snapshot
// over it would lose them, so it is refused like a well-formed object that
// does not verify (a wrong secret and a tampered object cannot be told
// apart: it may be the fleet's real DB under another secret), one of an
// unknown format or a newer schema.
func (s *Syncer) overBroken(fr fetchResult, err error) (base, bool) {
	if fr.f == nil || !(errors.Is(err, configdb.ErrTruncated) || errors.Is(err, configdb.ErrBadMagic) || errors.Is(err, configdb.ErrMalformed)) {
		return base{}, false
	}
	_, held, _ := s.held()
	cur := s.Current()
	ev := s.log.Warn().Err(err).Str("etag", fr.f.etag).Int("bytes", len(fr.f.body)).Str("reason", fr.reason).
		Uint64("generation", cur.Generation())
	h, herr := configdb.ReadHeader(fr.f.body)
	switch {
	case herr != nil || held == nil:
		ev.Msg("the sync bucket holds a broken config db that does not say which db it was: not publishing over it " +
			"(it may have replaced changes this instance does not hold); restore the newest db into the sync key")
		return base{}, false
	case !(h.Generation == held.Generation && h.Nonce == held.Nonce) && !olderThanHeld(h, cur.Generation(), held):
		ev.Uint64("broken_generation", h.Generation).
			Msg("the sync bucket holds a broken copy of a config db this instance does not hold: not publishing over it " +
				"(an instance holding it will)")
		return base{}, false
	}
	ev.Uint64("broken_generation", h.Generation).
		Msg("the sync bucket holds a broken copy of the config db held here (not a db of any fleet or secret): publishing the held one over it")
	return base{state: cur, etag: fr.f.etag, hdr: held}, true
}

// publishBucket is Publish with a sync bucket.
func (s *Syncer) publishBucket(ctx context.Context, op configdb.Op, start time.Time) (*configdb.State, error) {
	fail := func(err error, attempts int) (*configdb.State, error) {
		result := PublishUnavailable
		if errors.Is(err, ErrMidUpgrade) {
			result = PublishMidUpgrade
		} else if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrOutcomeUnknown) {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		s.recordPublish(result, 0, attempts, err)
		s.log.Warn().Err(err).Str("op", op.Describe()).Int("attempts", attempts).Msg("config db not published")
		return nil, err
	}
	if err := s.ensureProbed(ctx); err != nil {
		return fail(fmt.Errorf("publish config db: %w", err), 0)
	}
	b, err := s.newestBase(ctx)
	if err != nil {
		return fail(err, 0)
	}
	for attempt := 1; ; attempt++ {
		next, err := op.Apply(b.state, s.now())
		if err != nil || next == b.state {
			s.adopt(b)
			if err != nil {
				if attempt > 1 {
					s.log.Info().Err(err).Str("op", op.Describe()).Int("attempts", attempt).
						Msg("compare-and-swap lost: the op no longer applies after rebase, giving up")
				}
				s.recordPublish(PublishRejected, 0, attempt, err)
				return nil, err
			}
			cur := s.Current()
			s.recordPublish(PublishNoop, cur.Generation(), attempt, nil)
			return cur, nil
		}
		next = next.WithGeneration(b.state.Generation() + 1)
		opts := s.sealOpts(b.hdr)
		sealed, err := configdb.Seal(next, opts, s.keys, s.o.Secret)
		if err != nil {
			return fail(fmt.Errorf("publish config db: %w", err), attempt)
		}
		ifMatch, ifNoneMatch := b.etag, ""
		if ifMatch == "" {
			ifNoneMatch = "*"
		}
		rctx, cancel := s.request(ctx)
		newETag, err := s.bucket.Put(rctx, s.o.Key, sealed, ifMatch, ifNoneMatch)
		cancel()
		if err != nil && !errors.Is(err, ErrPreconditionFailed) && !errors.Is(err, ErrNotFound) {
			newETag, err = s.resolveAmbiguousPut(ctx, sealed, b.etag, err)
		}
		switch {
		case err == nil:
			etag := normETag(newETag)
			s.succeeded()
			s.installPublished(next, sealed, etag)
			s.recordPublish(PublishOK, next.Generation(), attempt, nil)
			s.logSchemaChange(b.hdr, opts.Schema, next.Generation())
			s.log.Info().Uint64("generation", next.Generation()).Int("attempts", attempt).Str("etag", etag).Int("schema", opts.Schema).
				Str("op", op.Describe()).Int("bytes", len(sealed)).Int64("duration_ms", time.Since(start).Milliseconds()).
				Msg("config db published")
			return next, nil
		case errors.Is(err, ErrOutcomeUnknown):
			s.failed()
			return fail(fmt.Errorf("publish config db: %w", err), attempt)
		case !errors.Is(err, ErrPreconditionFailed) && !errors.Is(err, ErrNotFound):
			// (404 answers If-Match on an object deleted meanwhile: a
			// change like any other, so it is rebased as well.)
			s.failed()
			return fail(fmt.Errorf("publish config db: %w: put %s: %w", ErrUnavailable, s.o.Key, err), attempt)
		}
		s.m.conflicts.Inc()
		if attempt >= s.o.MaxPublishAttempts {
			s.log.Warn().Str("op", op.Describe()).Int("attempts", attempt).Str("etag", b.etag).
				Msg("compare-and-swap lost: giving up after too many attempts")
			return fail(fmt.Errorf("publish config db: %w: lost the compare-and-swap to other instances %d times",
				ErrUnavailable, attempt), attempt)
		}
		if err := backoff.Sleep(ctx, s.conflict.Delay(attempt)); err != nil {
			return fail(fmt.Errorf("publish config db: %w", err), attempt)
		}
		prevGen := b.state.Generation()
		if b, err = s.newestBase(ctx); err != nil {
			return fail(err, attempt)
		}
		s.mu.Lock()
		s.conflicts++
		s.mu.Unlock()
		s.log.Info().Str("op", op.Describe()).Int("attempt", attempt).Uint64("lost_to_generation", b.state.Generation()).
			Uint64("based_on_generation", prevGen).Str("etag", b.etag).Msg("compare-and-swap lost: rebasing")
	}
}

// resolveBudget bounds how long resolveAmbiguousPut keeps reading back
// (never more than the request timeout).
const resolveBudget = 10 * time.Second

// resolveAmbiguousPut settles a conditional PUT that failed without an
// answer (a connection reset while the body was still being sent, a 5xx,
// the bucket dying between its commit and its answer): the bucket may or
// may not hold the DB. It reads the object back: our own bytes mean the
// write landed (success, with the object's ETag); other bytes under
// another ETag than the base mean another instance wrote (a conflict:
// rebase); the base still there (or still no object, for a create) means
// the write did not land, and the original error stands. A server that
// rejects a conditional PUT early (412 before the body is read) can cut
// the connection so that the client never sees the 412: this turns that
// into the conflict it is.
//
// A read-back that gets no answer is retried (the conflict backoff,
// capped at a second) for at most resolveBudget or the request timeout,
// whichever is shorter, and while ctx lasts: the bucket that just failed
// is often the one restarting. When it still cannot tell, the error wraps
// ErrOutcomeUnknown, never ErrUnavailable's "nothing changed".
func (s *Syncer) resolveAmbiguousPut(ctx context.Context, sealed []byte, baseETag string, putErr error) (string, error) {
	bctx, bcancel := context.WithTimeout(ctx, min(resolveBudget, s.o.RequestTimeout))
	defer bcancel()
	wait := backoff.Policy{First: s.o.ConflictBackoff, Max: time.Second, Rand: s.rand}
	var readErr error
	for n := 1; ; n++ {
		rctx, cancel := s.request(bctx)
		body, etag, err := s.bucket.Get(rctx, s.o.Key, "")
		cancel()
		switch {
		case err == nil && bytes.Equal(body, sealed):
			s.log.Info().Err(putErr).Str("etag", normETag(etag)).Int("reads", n).
				Msg("put answered with an error but the bucket holds this db: published")
			return etag, nil
		case err == nil && normETag(etag) != normETag(baseETag):
			s.log.Info().Err(putErr).Int("reads", n).
				Msg("put answered with an error and the bucket holds another db: treating it as a lost compare-and-swap")
			return "", fmt.Errorf("%w: %w", ErrPreconditionFailed, putErr)
		case err == nil, errors.Is(err, ErrNotFound):
			// The base is still there, or (If-Match) the object is gone,
			// which our write cannot have done: it did not land.
			return "", putErr
		}
		readErr = err
		if backoff.Sleep(bctx, wait.Delay(n)) != nil {
			s.log.Warn().Err(putErr).AnErr("read_error", readErr).Int("reads", n).
				Msg("put answered with an error and the bucket could not be read back: the outcome is unknown")
			return "", fmt.Errorf("%w: put %s: %w (reading it back %d times: %w)", ErrOutcomeUnknown, s.o.Key, putErr, n, readErr)
		}
	}
}

// installPublished makes a published DB current, unless the order pulls
// use (see olderThanHeld) would refuse it over the held one, so that a
// publish onto a reset bucket (a lower generation sealed later) is
// installed. The caller holds xchg.
func (s *Syncer) installPublished(next *configdb.State, sealed []byte, etag string) {
	h, err := configdb.ReadHeader(sealed)
	if err != nil { // unreachable: we sealed it
		s.log.Error().Err(err).Msg("published db has an unreadable header")
		return
	}
	if _, held, _ := s.held(); olderThanHeld(h, s.Current().Generation(), held) {
		return
	}
	_ = s.install(next, h, etag, sealed, sealed, false)
}

// adopt applies the bucket's DB a publish fetched but did not supersede,
// as a pull would (source "publish").
func (s *Syncer) adopt(b base) {
	if b.fetched == nil {
		return
	}
	res, result, err := s.applyFetched(b.fetched, trigger{source: SourcePublish}, time.Now())
	s.recordPull(SourcePublish, result, err, res)
}

func (s *Syncer) recordPublish(result string, generation uint64, attempts int, err error) {
	s.m.publishes.WithLabelValues(result).Inc()
	ps := &PublishStatus{Time: s.now(), Result: result, Generation: generation, Attempts: attempts}
	if err != nil {
		ps.Error = err.Error()
	}
	s.mu.Lock()
	s.lastPublish = ps
	s.mu.Unlock()
}
