package configsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

// trigger is why a pull runs.
type trigger struct {
	source string
	// eventTime is the time of the (latest) event hint that asked for the
	// pull, zero otherwise; eventSource is its event source (nats, sqs).
	eventTime   time.Time
	eventSource string
}

// fetchKind is what fetch found in the bucket.
type fetchKind int

const (
	fetchVerified    fetchKind = iota // a DB that verified: fetched.state is set
	fetchSame                         // the very bytes of the DB held: nothing to verify or apply
	fetchNotModified                  // 304: the object's ETag is the one sent
	fetchEmpty                        // no object yet
	fetchUnavailable                  // no usable answer (the error wraps ErrUnavailable)
	fetchRejected                     // a DB that did not verify: fetchResult.reason says why
)

// fetchResult is the outcome of fetch.
type fetchResult struct {
	kind fetchKind
	// f is the downloaded object (fetchVerified, fetchSame, fetchRejected).
	f *fetched
	// reason is the pull result naming a rejection (ResultWrongSecret,
	// ResultSchemaTooNew, ...); empty otherwise.
	reason string
}

// fetched is a DB downloaded from the bucket. state is nil when it did
// not verify (or was not verified: fetchSame).
type fetched struct {
	state *configdb.State
	hdr   configdb.Header
	etag  string
	body  []byte
}

// fetch GETs the object unless its ETag is ifNoneMatch, and verifies it.
// The error is set for fetchUnavailable (wrapping ErrUnavailable) and
// fetchRejected (the verification error).
func (s *Syncer) fetch(ctx context.Context, ifNoneMatch string) (fetchResult, error) {
	ctx, cancel := s.request(ctx)
	defer cancel()
	body, etag, err := s.get(ctx, ifNoneMatch)
	switch {
	case errors.Is(err, ErrNotModified):
		return fetchResult{kind: fetchNotModified}, nil
	case errors.Is(err, ErrNotFound):
		return fetchResult{kind: fetchEmpty}, nil
	case err != nil:
		return fetchResult{kind: fetchUnavailable}, fmt.Errorf("%w: get %s: %w", ErrUnavailable, s.o.Key, err)
	}
	f := &fetched{etag: normETag(etag), body: body}
	if _, _, held := s.held(); sameDB(held, body) {
		return fetchResult{kind: fetchSame, f: f}, nil
	}
	// The caller holds xchg: the snapshot is the one this DB replaces.
	st, h, err := s.opener.OpenOn(body, s.keys, s.o.Secret, s.Current())
	f.hdr = h
	if err != nil {
		return fetchResult{kind: fetchRejected, f: f, reason: classifyOpen(err)}, err
	}
	f.state = st
	return fetchResult{kind: fetchVerified, f: f}, nil
}

// get GETs the config object, into a receive buffer of s.bodies that
// neither the held DB nor the pending local write uses, when the bucket
// can. The caller holds xchg.
func (s *Syncer) get(ctx context.Context, ifNoneMatch string) ([]byte, string, error) {
	g, ok := s.bucket.(BucketGetInto)
	if !ok {
		return s.bucket.Get(ctx, s.o.Key, ifNoneMatch)
	}
	_, _, sealed := s.held()
	for i, buf := range s.bodies {
		if sameArray(buf, sealed) || sameArray(buf, s.unsaved) {
			continue
		}
		body, etag, err := g.GetInto(ctx, s.o.Key, ifNoneMatch, buf)
		if err == nil && body != nil {
			s.bodies[i] = body[:0]
		}
		return body, etag, err
	}
	return g.GetInto(ctx, s.o.Key, ifNoneMatch, nil) // both in use: never kept
}

// sameArray reports whether a and b share their backing array's end (a
// receive buffer and a body read into it do).
func sameArray(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:cap(a)][cap(a)-1] == &b[:cap(b)][cap(b)-1]
}

// classifyOpen names why configdb.Open refused a DB.
func classifyOpen(err error) string {
	switch {
	case errors.Is(err, configdb.ErrSchemaTooNew):
		return ResultSchemaTooNew
	case errors.Is(err, configdb.ErrAuthFailed), errors.Is(err, configdb.ErrNoSecret):
		return ResultWrongSecret
	case errors.Is(err, configdb.ErrTruncated):
		return ResultTruncated
	case errors.Is(err, configdb.ErrInvalidState):
		return ResultInvalid
	default: // bad magic, malformed header, unsupported format, KDF bounds
		return ResultMalformed
	}
}

// normETag removes the quotes (and a weak prefix) of an ETag.
func normETag(etag string) string {
	return strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
}

// olderThanHeld reports whether a verified DB with header h must not
// replace the held one (generation curGen, header held): its generation is
// lower, and it was not sealed after the held DB. A lower generation sealed
// later is a new history (the bucket was reset and a writer started over)
// and is applied; a lower generation sealed earlier is a stale read, a
// replay of an old DB or a restored backup, and applying it could bring
// back deleted users or keys.
func olderThanHeld(h configdb.Header, curGen uint64, held *configdb.Header) bool {
	if h.Generation >= curGen {
		return false
	}
	return held == nil || held.SealedAt.IsZero() || !h.SealedAt.After(held.SealedAt)
}

// mergeForward returns pulled with the session revocations of cur merged
// in (the later time wins), and whether that added anything. Revocations
// only move forward, so a DB applied after a reset never revives a revoked
// session. A revocation of cur recorded before horizon (zero: none) is
// not carried: it can no longer match a valid session, and pulled lacks
// it because a writer pruned it.
func mergeForward(pulled, cur *configdb.State, horizon time.Time) (*configdb.State, bool, error) {
	var carry map[string]time.Time
	for id, t := range cur.Revocations() {
		if t.Before(horizon) {
			continue
		}
		if p, ok := pulled.RevokedSince(id); ok && !t.After(p) {
			continue
		}
		if carry == nil {
			carry = make(map[string]time.Time)
		}
		carry[id] = t
	}
	if carry == nil {
		return pulled, false, nil
	}
	d := pulled.Data()
	d.Revocations = configdb.MergeRevocations(d.Revocations, carry)
	st, err := configdb.NewState(pulled.Generation(), d)
	if err != nil {
		return nil, false, fmt.Errorf("merge session revocations: %w", err)
	}
	return st, true, nil
}

// revocationHorizon is the time before which a held revocation is not
// carried into another DB (see Options.RevocationRetain); zero carries
// every one.
func (s *Syncer) revocationHorizon() time.Time {
	if s.o.RevocationRetain <= 0 {
		return time.Time{}
	}
	return s.now().Add(-s.o.RevocationRetain)
}

// pull runs one pull: a conditional GET against the held ETag,
// verification, and, for a newer DB, the swap and the local file write.
// It holds xchg throughout, so pulls and publishes take turns.
func (s *Syncer) pull(ctx context.Context, t trigger) (PullResult, error) {
	s.xchg.Lock()
	defer s.xchg.Unlock()
	start := time.Now()
	sentETag, _, _ := s.held()
	fr, err := s.fetch(ctx, sentETag)
	res := PullResult{ETag: sentETag, Generation: s.Current().Generation(), Status: ResultCurrent}
	result := ResultCurrent
	switch fr.kind {
	case fetchSame:
		s.succeeded()
		s.setETag(fr.f.etag)
		res.ETag = fr.f.etag
	case fetchNotModified:
		s.succeeded()
	case fetchEmpty:
		s.succeeded()
		s.setETag("")
		result, res.Status, res.ETag = ResultEmpty, ResultEmpty, ""
		s.logEmpty(t.source)
	case fetchUnavailable:
		result, res.Status = ResultUnavailable, ResultUnavailable
		n := s.failed()
		s.logUnavailable(err, t.source, n)
	case fetchVerified:
		s.succeeded()
		res, result, err = s.applyFetched(fr.f, t, start)
	case fetchRejected:
		s.succeeded()
		s.markStale()
		result, res.Status = fr.reason, fr.reason
		s.logRejected(fr.f, fr.reason, err, t.source)
		err = fmt.Errorf("%w (%s): %w", ErrRejected, fr.reason, err)
	}
	s.recordPull(t.source, result, err, res)
	return res, err
}

// applyFetched applies a verified DB unless it is the one held or older.
// It returns the pull result label with the answer. The caller holds xchg.
func (s *Syncer) applyFetched(f *fetched, t trigger, start time.Time) (PullResult, string, error) {
	cur := s.Current()
	heldETag, held, sealed := s.held()
	res := PullResult{ETag: heldETag, Generation: cur.Generation(), Status: ResultCurrent}
	switch {
	case sameDB(sealed, f.body):
		s.setETag(f.etag)
		res.ETag = f.etag
		return res, ResultCurrent, nil
	case olderThanHeld(f.hdr, cur.Generation(), held):
		s.markStale()
		err := fmt.Errorf("%w (%s): the sync bucket holds generation %d, older than the generation %d this instance holds",
			ErrRejected, ResultOlder, f.hdr.Generation, cur.Generation())
		if ok, n := s.rejectGate.allow(ResultOlder+f.etag, s.now()); ok {
			s.log.Warn().Str("etag", f.etag).Uint64("generation", f.hdr.Generation).
				Uint64("current_generation", cur.Generation()).Time("sealed_at", f.hdr.SealedAt).
				Str("writer", f.hdr.WriterNode).Str("source", t.source).Str("result", ResultOlder).Int("suppressed", n).
				Msg("config db refused: lower generation (stale, replayed or restored copy); never downgrading")
		}
		res.Status = ResultOlder
		return res, ResultOlder, err
	}
	next, merged, err := mergeForward(f.state, cur, s.revocationHorizon())
	if err != nil {
		return res, ResultInvalid, fmt.Errorf("%w (%s): %w", ErrRejected, ResultInvalid, err)
	}
	persist := f.body
	if merged && f.hdr.Newer() {
		// Re-sealing would drop the fields this binary does not know: the
		// local file keeps the bytes of the bucket's DB (without the
		// revocations merged in memory).
		s.log.Warn().Str("etag", f.etag).Uint16("schema", f.hdr.Schema).
			Msg("session revocations merged in memory only: the local file keeps the newer-schema db as published")
	} else if merged {
		h := f.hdr
		persist, err = configdb.Seal(next, configdb.SealOptions{WriterNode: h.WriterNode, Prev: &h, Now: h.SealedAt, Schema: int(h.Schema)},
			s.keys, s.o.Secret)
		if err != nil {
			s.log.Error().Err(err).Msg("re-sealing the merged config db failed: the local file keeps the previous db")
			persist = nil
		}
	}
	if f.hdr.Generation < cur.Generation() {
		s.log.Warn().Str("etag", f.etag).Uint64("generation", f.hdr.Generation).Uint64("previous_generation", cur.Generation()).
			Time("sealed_at", f.hdr.SealedAt).Str("source", t.source).
			Msg("applying a lower generation sealed later than the held db: the sync bucket was reset")
	}
	// The lag ends when S3 requests see the new snapshot: install swaps it
	// first and only then writes the local file (two fsyncs), or leaves
	// that to Run (see install).
	now := s.now()
	_ = s.install(next, f.hdr, f.etag, f.body, persist, true)
	ev := s.log.Info().Str("etag", f.etag).Uint64("generation", next.Generation()).
		Uint64("previous_generation", cur.Generation()).Str("source", t.source).Int("bytes", len(f.body)).
		Int64("duration_ms", time.Since(start).Milliseconds()).Int("users", next.NumUsers()).Str("writer", f.hdr.WriterNode)
	if merged {
		ev = ev.Bool("revocations_merged", true)
	}
	if !t.eventTime.IsZero() {
		lag := now.Sub(t.eventTime)
		s.m.observeLag(lag)
		s.o.EventMetrics.ObserveLag(t.eventSource, lag)
		ev = ev.Int64("lag_ms", lag.Milliseconds())
	}
	ev.Msg("config db applied")
	s.logNewer(f.hdr, t.source)
	s.rejectGate.reset()
	return PullResult{Downloaded: true, ETag: f.etag, Generation: next.Generation(), Status: ResultUpdated}, ResultUpdated, nil
}

// setETag records etag as the held DB's ("" when the object is gone, so
// that the next publish creates it with If-None-Match: *).
func (s *Syncer) setETag(etag string) {
	s.mu.Lock()
	s.etag = etag
	s.mu.Unlock()
}

func (s *Syncer) markStale() {
	s.mu.Lock()
	s.stale = true
	s.mu.Unlock()
}

func (s *Syncer) logEmpty(source string) {
	if ok, _ := s.rejectGate.allow("empty", s.now()); ok {
		s.log.Info().Str("bucket", s.o.BucketName).Str("key", s.o.Key).Str("source", source).
			Uint64("generation", s.Current().Generation()).
			Msg("sync bucket holds no config db yet: the first mutation creates it")
	}
}

func (s *Syncer) logUnavailable(err error, source string, failures int) {
	if ok, n := s.pollGate.allow(err.Error(), s.now()); ok {
		s.log.Warn().Err(err).Str("bucket", s.o.BucketName).Str("source", source).Int("failures", failures).
			Int("suppressed", n).Msg("sync bucket unreachable: serving the current snapshot")
	}
}

func (s *Syncer) logRejected(f *fetched, result string, err error, source string) {
	if ok, n := s.rejectGate.allow(result+f.etag, s.now()); ok {
		ev := s.log.Error()
		if result == ResultSchemaTooNew {
			ev = ev.Str("action", "upgrade this instance")
		}
		ev.Err(err).Str("etag", f.etag).Int("bytes", len(f.body)).Str("source", source).Str("result", result).
			Uint64("current_generation", s.Current().Generation()).Int("suppressed", n).
			Msg("config db refused: keeping the current snapshot")
	}
}

// recordPull updates the status and metrics of a finished pull.
func (s *Syncer) recordPull(source, result string, err error, res PullResult) {
	s.m.pulls.WithLabelValues(source, result).Inc()
	ps := &PullStatus{Time: s.now(), Source: source, Result: result, ETag: res.ETag, Generation: res.Generation}
	if err != nil {
		ps.Error = err.Error()
	}
	s.mu.Lock()
	s.lastPull = ps
	if result != ResultUnavailable {
		s.synced = true
	}
	s.mu.Unlock()
}
