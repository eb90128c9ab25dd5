package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/lease"
)

// maxFailuresPerFlush bounds the failures one run keeps before a flush.
const maxFailuresPerFlush = 1000

// Progress is a run's bookkeeping: counters, failures, and the fenced
// writes of the run's record into the job's state object. Safe for
// concurrent use by a run's workers.
type Progress struct {
	e       *Engine
	j       *job
	fence   lease.Fence
	trigger string
	log     zerolog.Logger

	mu       sync.Mutex
	run      Run
	started  bool
	counts   Counts    // since the run began
	failures []Failure // not yet flushed
}

// Log returns the run's logger (component=jobs, kind, rule, node, run, token).
func (p *Progress) Log() *zerolog.Logger { return &p.log }

func newRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

func (p *Progress) begun() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// Begin records the run as the job's current one (a fenced write); a run
// calls it before its first write. Calling it again does nothing.
func (p *Progress) Begin(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return nil
	}
	p.started = true
	now := p.e.now().UTC()
	p.run.Started, p.run.Updated, p.run.Status = now, now, StatusRunning
	run := p.run
	p.mu.Unlock()
	p.log.Info().Str("trigger", p.trigger).Msg("run started")
	_, err := p.e.state.update(ctx, p.j.kind, p.j.name, p.fence, func(s *State) bool {
		if s.Current != nil && s.Current.Status == StatusRunning && s.Current.ID != run.ID {
			// A holder that died mid-run left its run running: close it.
			old := *s.Current
			old.Status, old.Error = StatusFailed, "abandoned: its holder stopped renewing the lease"
			old.Finished = now
			s.Runs = append(s.Runs, old)
		}
		s.Current = &run
		return true
	})
	return err
}

// Add counts objects (and updates the dgp_jobs_* series).
func (p *Progress) Add(c Counts) {
	m := p.e.metrics
	k, r := p.j.kind, p.j.name
	if c.Copied > 0 {
		m.objects.WithLabelValues(k, r, "copied").Add(float64(c.Copied))
	}
	if c.Skipped > 0 {
		m.objects.WithLabelValues(k, r, "skipped").Add(float64(c.Skipped))
	}
	if c.Deleted > 0 {
		m.objects.WithLabelValues(k, r, "deleted").Add(float64(c.Deleted))
	}
	if c.Failed > 0 {
		m.objects.WithLabelValues(k, r, "failed").Add(float64(c.Failed))
	}
	if c.Bytes > 0 {
		m.bytes.WithLabelValues(k, r).Add(float64(c.Bytes))
	}
	p.mu.Lock()
	p.counts.add(c)
	p.mu.Unlock()
}

// Fail records an object the run could not handle (counted as failed).
func (p *Progress) Fail(key, op string, err error) {
	p.Add(Counts{Failed: 1})
	p.log.Warn().Err(err).Str("key", key).Str("op", op).Msg("object failed")
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.failures) < maxFailuresPerFlush {
		p.failures = append(p.failures, Failure{Time: p.e.now().UTC(), Run: p.run.ID, Node: p.run.Node,
			Token: p.run.Token, Key: key, Op: op, Error: err.Error()})
	}
}

// Flush writes the run's progress and new failures into the state object
// (a fenced write): a run calls it after every batch.
func (p *Progress) Flush(ctx context.Context) error {
	p.mu.Lock()
	run := p.run
	run.Counts = p.counts
	run.Updated = p.e.now().UTC()
	fails := p.failures
	p.failures = nil
	p.mu.Unlock()
	_, err := p.e.state.update(ctx, p.j.kind, p.j.name, p.fence, func(s *State) bool {
		if s.Current == nil || s.Current.ID != run.ID {
			s.Current = &run
		}
		s.Current.Counts, s.Current.Updated = run.Counts, run.Updated
		s.Failures = append(s.Failures, fails...)
		return true
	})
	if err != nil {
		p.mu.Lock()
		p.failures = append(fails, p.failures...)
		p.mu.Unlock()
	}
	return err
}

// finish records the run's end. A run whose lease was lost is recorded as
// failed without the fence (bookkeeping only, compare-and-swapped: it
// closes this run's record and touches nothing else of the new holder's).
func (p *Progress) finish(ctx context.Context, runErr error, full bool) {
	p.mu.Lock()
	run := p.run
	run.Counts = p.counts
	now := p.e.now().UTC()
	run.Updated, run.Finished = now, now
	fails := p.failures
	p.failures = nil
	p.mu.Unlock()
	switch {
	case runErr != nil:
		run.Status, run.Error = StatusFailed, runErr.Error()
	case run.Counts.Failed > 0:
		run.Status = StatusPartial
	default:
		run.Status = StatusSucceeded
	}
	fenced := errors.Is(runErr, lease.ErrFenced)
	var fence lease.Fence = p.fence
	if fenced {
		fence = nil
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stateTimeout)
	defer cancel()
	_, err := p.e.state.update(wctx, p.j.kind, p.j.name, fence, func(s *State) bool {
		if s.Current != nil && s.Current.ID == run.ID {
			s.Current = nil
		}
		s.Runs = append(s.Runs, run)
		s.Failures = append(s.Failures, fails...)
		s.Totals.add(run.Counts)
		if full && runErr == nil {
			s.LastFull = run.Started
		}
		return true
	})
	p.e.metrics.runs.WithLabelValues(p.j.kind, p.j.name, run.Status).Inc()
	ev := p.log.Info()
	if runErr != nil {
		ev = p.log.Warn().Err(runErr).Bool("fenced", fenced)
	}
	ev.Str("status", run.Status).Int64("copied", run.Counts.Copied).Int64("skipped", run.Counts.Skipped).
		Int64("deleted", run.Counts.Deleted).Int64("failed", run.Counts.Failed).Int64("bytes", run.Counts.Bytes).
		Dur("took", now.Sub(run.Started)).Msg("run finished")
	if err != nil {
		p.log.Warn().Err(err).Msg("run record not written")
	}
	p.j.setErr(runErr)
}
