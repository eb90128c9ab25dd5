package lifecycle

import (
	"context"
	"sync"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/jobs"
	"github.com/dgp-proxy/dgp/internal/lease"
)

// NewWork returns the builder of lifecycle rules' work for the jobs
// engine (jobs.Options.LifecycleWork): each rule's Run is Apply under the
// run's lease, its Preview is PlanRule. now is the clock ages are judged
// on (nil: time.Now), read once at the start of each run and preview.
func NewWork(resolve Resolver, now func() time.Time) jobs.LifecycleWork {
	if now == nil {
		now = time.Now
	}
	return func(rule config.LifecycleRule) (jobs.Work, error) {
		if err := checkRule(rule); err != nil {
			return nil, err
		}
		if _, err := rule.Filter(); err != nil {
			return nil, err
		}
		return &work{rule: rule, resolve: resolve, now: now}, nil
	}
}

// work is one lifecycle rule as a jobs.Work.
type work struct {
	rule    config.LifecycleRule
	resolve Resolver
	now     func() time.Time
}

var _ jobs.Work = (*work)(nil)

// Preview implements jobs.Work: the rule's *Plan now.
func (w *work) Preview(ctx context.Context) (any, error) {
	return PlanRule(ctx, w.resolve, w.rule, w.now())
}

// Run implements jobs.Work (full is ignored: every lifecycle run is a
// full pass). The run is recorded (p.Begin) at its first write, its
// progress flushed every batch_size actions, all before a write and
// through the fence; a run with nothing to do records nothing.
func (w *work) Run(ctx context.Context, fence lease.Fence, _ bool, p *jobs.Progress) error {
	rf := &runFence{ctx: ctx, fence: fence, p: p, batch: w.rule.BatchSize}
	if rf.batch <= 0 {
		rf.batch = config.DefaultJobBatchSize
	}
	res, err := Apply(ctx, w.resolve, w.rule, w.now(), rf, ObserverFunc(rf.observe))
	// Apply's workers are done: rf is this goroutine's again.
	if res != nil && rf.begun {
		p.Add(jobs.Counts{Listed: res.Stats.Scanned})
	}
	if err == nil && rf.pending > 0 {
		err = p.Flush(ctx)
	}
	return err
}

// runFence is the run's lease fence plus the run's bookkeeping writes,
// made just before a write of the rule (themselves fenced by p).
type runFence struct {
	ctx   context.Context
	fence lease.Fence
	p     *jobs.Progress
	batch int

	// mu guards begun and pending (Check and observe are called by the
	// run's workers); taken after the runner's lock when both are held.
	mu      sync.Mutex
	begun   bool
	pending int // actions observed since the last flush
}

func (f *runFence) Check() error {
	if err := f.fence.Check(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.begun {
		if err := f.p.Begin(f.ctx); err != nil {
			return err
		}
		f.begun = true
	}
	if f.pending >= f.batch {
		f.pending = 0
		if err := f.p.Flush(f.ctx); err != nil {
			return err
		}
	}
	return nil
}

// observe counts an event: bytes are those copied and those deleted by
// delete and retain-newest (a transition's source delete adds none, so a
// move counts its bytes once).
func (f *runFence) observe(e Event) {
	f.mu.Lock()
	f.pending++
	f.mu.Unlock()
	a := e.Action
	switch e.Outcome {
	case Copied:
		f.p.Add(jobs.Counts{Copied: 1, Bytes: e.Bytes})
	case Deleted:
		c := jobs.Counts{Deleted: 1}
		if a.Op == OpDelete {
			c.Bytes = e.Bytes
		}
		f.p.Add(c)
	case Skipped:
		f.p.Add(jobs.Counts{Skipped: 1})
		f.p.Log().Debug().Str("key", a.Key).Str("op", string(a.Op)).AnErr("reason", e.Err).Msg("object skipped")
	case Failed:
		f.p.Fail(a.Key, string(a.Op), e.Err)
	}
}
