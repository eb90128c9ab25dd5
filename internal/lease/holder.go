package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Fence is what a run carries to its writers: the token to log and put
// beside what it writes, and Check to call before every write.
type Fence interface {
	// Token is the fencing token of the run (the lease generation).
	Token() uint64
	// Check returns nil while the lease is held, and an error wrapping
	// ErrFenced and the reason (ErrLost, ErrMissedRenewal, ErrExpired,
	// ErrReleased) once it is not; a refused write is counted.
	Check() error
}

// Lease is a held lease: the Fence of the run, renewed by a Keeper (or
// by calling Renew), given back with Release. Safe for concurrent use.
// Once not held (lost, missed renewal, expired, released) it stays so:
// take the lease again with Manager.Acquire for a new run, with a new
// token.
type Lease struct {
	m               *Manager
	kind, rule, key string
	token           uint64
	done            chan struct{} // closed when the lease is no longer held

	// writeMu makes renewals and the release take turns (one write of
	// the object at a time); taken before mu.
	writeMu sync.Mutex
	// mu guards the fields below; never held across a store request.
	mu       sync.Mutex
	rec      Record    // last record written
	etag     string    // ETag of rec in the store
	deadline time.Time // local: start of the last successful write + ttl - margin
	err      error     // nil while held
}

var _ Fence = (*Lease)(nil)

// Token implements Fence.
func (l *Lease) Token() uint64 { return l.token }

// Kind and Rule name the lease.
func (l *Lease) Kind() string { return l.kind }
func (l *Lease) Rule() string { return l.rule }

// Record returns the record last written by this holder.
func (l *Lease) Record() Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rec
}

// Deadline returns the local deadline: past it, Check refuses.
func (l *Lease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

// Done is closed once the lease is no longer held (Err says why).
func (l *Lease) Done() <-chan struct{} { return l.done }

// Err returns nil while the lease is held (without judging the deadline:
// Check does), else why it is not.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Check implements Fence.
func (l *Lease) Check() error {
	if err := l.state(); err != nil {
		l.m.metrics.refusals.WithLabelValues(l.kind, l.rule).Inc()
		return err
	}
	return nil
}

// state is Check without counting a refusal: it judges the deadline on
// the injected clock and returns why the lease is not held, or nil.
func (l *Lease) state() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil && !l.m.now().Before(l.deadline) {
		l.failLocked(ErrExpired, fmt.Errorf("local deadline %s passed without a renewal", l.deadline.UTC().Format(time.RFC3339Nano)))
	}
	return l.err
}

// failLocked marks the lease not held, once: reason is one of ErrLost,
// ErrMissedRenewal, ErrExpired, ErrReleased; cause may be nil.
func (l *Lease) failLocked(reason, cause error) {
	if l.err != nil {
		return
	}
	if cause != nil {
		l.err = fmt.Errorf("%w: %w: %w", ErrFenced, reason, cause)
	} else {
		l.err = fmt.Errorf("%w: %w", ErrFenced, reason)
	}
	close(l.done)
	l.m.forget(l)
	mt := l.m.metrics
	mt.held.WithLabelValues(l.kind, l.rule).Set(0)
	log := l.m.logger(l.kind, l.rule)
	if reason == ErrReleased {
		log.Info().Uint64("token", l.token).Msg("lease released")
		return
	}
	mt.lostRenewals.WithLabelValues(l.kind, l.rule).Inc()
	log.Warn().Uint64("token", l.token).Err(l.err).Msg("lease lost: the run stops before its next write")
}

func (l *Lease) fail(reason, cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failLocked(reason, cause)
}

// Renew extends the lease by the ttl from now with a write conditional on
// the ETag this holder wrote last. A lease past its local deadline is
// not renewed (ErrExpired). A conditional write refused means another
// holder took it (ErrLost); any other failure is a missed renewal
// (ErrMissedRenewal): either way the lease is no longer held and Renew
// returns the error Check will return.
func (l *Lease) Renew(ctx context.Context) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if err := l.state(); err != nil {
		return err
	}
	l.mu.Lock()
	rec, etag := l.rec, l.etag
	l.mu.Unlock()
	sent := l.m.nowUTC()
	rec.Renewed, rec.Expires, rec.TTLMillis = sent, sent.Add(l.m.ttl), l.m.ttl.Milliseconds()
	rec.Nonce = randomID()
	newETag, err := l.write(ctx, rec, etag)
	if err != nil {
		reason := ErrMissedRenewal
		if errors.Is(err, ErrConflict) {
			reason = ErrLost
		}
		l.fail(reason, err)
		return l.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rec, l.etag = rec, newETag // kept even if the lease failed meanwhile: Release needs it
	if l.err == nil {
		l.deadline = sent.Add(l.m.ttl - l.m.margin)
	}
	return l.err
}

// Release gives the lease back: the fence closes first (ErrReleased),
// then a write conditional on this holder's ETag marks the object
// released, so that the next Acquire anywhere takes it at once. A lease
// lost to another holder is left alone (nil). Release is idempotent.
func (l *Lease) Release(ctx context.Context) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.mu.Lock()
	lost := errors.Is(l.err, ErrLost)
	l.failLocked(ErrReleased, nil)
	rec, etag := l.rec, l.etag
	l.mu.Unlock()
	if lost || rec.Released || etag == "" {
		return nil
	}
	now := l.m.nowUTC()
	rec.Released, rec.Renewed, rec.Expires, rec.Nonce = true, now, now, randomID()
	newETag, err := l.write(ctx, rec, etag)
	if errors.Is(err, ErrConflict) {
		return nil // another holder has it: nothing of ours to give back
	}
	if err != nil {
		return fmt.Errorf("release lease %s/%s: %w", l.kind, l.rule, err)
	}
	l.mu.Lock()
	l.rec, l.etag = rec, newETag
	l.mu.Unlock()
	return nil
}

// write replaces the object with rec if its ETag is etag. A refused
// write whose object carries rec's nonce was ours (the answer to the
// first attempt was lost and a retry was refused): it succeeded.
func (l *Lease) write(ctx context.Context, rec Record, etag string) (string, error) {
	body, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	newETag, err := l.m.store.PutIfMatch(ctx, l.key, body, etag)
	if !errors.Is(err, ErrConflict) {
		return newETag, err
	}
	cur, curETag, gerr := l.m.read(ctx, l.key)
	if gerr == nil && cur != nil && cur.Nonce == rec.Nonce {
		return curETag, nil
	}
	return "", err
}
