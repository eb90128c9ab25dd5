// Package jobs runs dgp's background jobs (replication and lifecycle rules)
// on every instance of a fleet, each rule by one instance at a time: per
// enabled rule a loop ticks (tick_interval, and at a held lease's RetryAt),
// takes the rule's lease (internal/lease), keeps it with a Keeper while it
// holds it, and runs the rule's work under the lease as its fence (every
// write preceded by Check). What the fleet knows about a job (pause flag,
// the run in progress, rings of recent runs and failures, counters) is a
// state object in the sync bucket (or the data directory without one),
// compare-and-swapped by every writer, so every instance answers the
// Jobs API with the same truth.
//
// Replication is event-driven too: the instance that served an S3 write
// appends a marker under .deltaglider/jobs/queue/<rule>/ (Enqueue), and
// the rule's leader drains the queue every tick; the periodic full
// reconcile (interval) is the safety net. See docs/jobs.md.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// DefaultConcurrency is the number of objects a replication run copies at
// once.
const DefaultConcurrency = 8

// stateTimeout bounds a state write made after the run's context ended
// (recording an interrupted run).
const stateTimeout = 10 * time.Second

// Errors callers branch on.
var (
	// ErrUnknownJob: no job with that id in this instance's config.
	ErrUnknownJob = errors.New("no such job")
	// ErrNoPreview: the job's kind has no preview here.
	ErrNoPreview = errors.New("preview not available")
)

// Resolver routes a client bucket to its backend (storage.Router).
type Resolver interface {
	Resolve(bucket string) (storage.Backend, string)
}

// Work is what a job does under its lease.
type Work interface {
	// Run performs one run: full says a full pass is due (a reconcile).
	// It calls fence.Check before every write, reports through p (p.Begin
	// before its first write, so that a tick with nothing to do records no
	// run) and returns an error when it stopped early.
	Run(ctx context.Context, fence lease.Fence, full bool, p *Progress) error
	// Preview says what a run would do now: read-only, takes no lease.
	Preview(ctx context.Context) (any, error)
}

// LifecycleWork builds the Work of a lifecycle rule (internal/jobs/lifecycle).
type LifecycleWork func(rule config.LifecycleRule) (Work, error)

// Options configure an Engine.
type Options struct {
	// Node is this instance's node id (logs, runs).
	Node string
	// Leases takes the rules' leases (its Store is the sync bucket's, or a
	// directory's). Required.
	Leases *lease.Manager
	// Store keeps state objects and the write-marker queue: NewBucketStore
	// on the sync bucket, or NewDirStore. Required.
	Store Store
	// Buckets routes rule buckets to their backends. Required.
	Buckets Resolver
	// Replication and Lifecycle are storage.replication and storage.lifecycle.
	Replication config.ReplicationConfig
	Lifecycle   config.LifecycleConfig
	// Lifecycle builds lifecycle rules' work; nil: lifecycle jobs are
	// listed but never run.
	LifecycleWork LifecycleWork
	// Concurrency is the number of copies in flight per replication run
	// (0: DefaultConcurrency).
	Concurrency int
	// Now is the clock (nil: time.Now); After the tick timer (nil: time.After).
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Logger gets component=jobs lines (with kind, rule, and in a run run
	// and token; the node field is the Logger's own: internal/app's
	// carries it); Registerer the dgp_jobs_* series.
	Logger     zerolog.Logger
	Registerer prometheus.Registerer
}

// Engine runs the jobs of one instance. Safe for concurrent use.
type Engine struct {
	node    string
	leases  *lease.Manager
	store   Store
	state   stateStore
	buckets Resolver
	now     func() time.Time
	after   func(time.Duration) <-chan time.Time
	log     zerolog.Logger
	metrics *metrics
	jobs    []*job
	byID    map[string]*job
	// repl are the replication rules by source bucket, for Enqueue.
	repl map[string][]*job
}

// job is one rule.
type job struct {
	kind, name, id, hash string
	enabled              bool
	tick, interval       time.Duration
	work                 Work
	repl                 *replication // replication rules only
	wake                 chan struct{}
	runNow               atomic.Bool

	mu        sync.Mutex
	holding   *lease.Lease // while this instance holds the lease
	otherHash string       // the holder's rule hash when it differs from ours
	lastErr   string       // the last lease or run error seen here
}

// New returns an Engine for o's rules.
func New(o Options) (*Engine, error) {
	switch {
	case o.Leases == nil:
		return nil, errors.New("jobs: Options.Leases is required")
	case o.Store == nil:
		return nil, errors.New("jobs: Options.Store is required")
	case o.Buckets == nil:
		return nil, errors.New("jobs: Options.Buckets is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	maxFail := max(o.Replication.MaxFailuresRetained, o.Lifecycle.MaxFailuresRetained, 1)
	e := &Engine{
		node: o.Node, leases: o.Leases, store: o.Store,
		state:   stateStore{s: o.Store, maxFailures: maxFail},
		buckets: o.Buckets, now: o.Now, after: o.After,
		log:     o.Logger.With().Str("component", "jobs").Logger(),
		metrics: newMetrics(o.Registerer),
		byID:    map[string]*job{},
		repl:    map[string][]*job{},
	}
	for _, r := range o.Replication.Rules {
		w, err := newReplication(e, r, o.Concurrency)
		if err != nil {
			return nil, fmt.Errorf("replication rule %s: %w", r.Name, err)
		}
		j := &job{
			kind: lease.KindReplication, name: r.Name, id: r.JobID(), hash: r.Hash(),
			enabled: o.Replication.Enabled && r.Enabled,
			tick:    o.Replication.TickInterval, interval: r.Interval,
			work: w, repl: w, wake: make(chan struct{}, 1),
		}
		e.add(j)
		e.repl[r.Source.Bucket] = append(e.repl[r.Source.Bucket], j)
	}
	for _, r := range o.Lifecycle.Rules {
		j := &job{
			kind: lease.KindLifecycle, name: r.Name, id: r.JobID(), hash: r.Hash(),
			enabled: o.Lifecycle.Enabled && r.Enabled && o.LifecycleWork != nil,
			tick:    o.Lifecycle.TickInterval, interval: o.Lifecycle.TickInterval,
			wake: make(chan struct{}, 1),
		}
		if o.LifecycleWork != nil {
			w, err := o.LifecycleWork(r)
			if err != nil {
				return nil, fmt.Errorf("lifecycle rule %s: %w", r.Name, err)
			}
			j.work = w
		}
		e.add(j)
	}
	return e, nil
}

func (e *Engine) add(j *job) {
	if j.tick <= 0 {
		j.tick = config.DefaultReplicationTick
	}
	if j.interval <= 0 {
		j.interval = j.tick
	}
	e.jobs = append(e.jobs, j)
	e.byID[j.id] = j
}

// Run runs every enabled job's loop until ctx ends, then waits for them
// (each holder releases its lease on the way out).
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, j := range e.jobs {
		if !j.enabled {
			continue
		}
		wg.Go(func() { e.loop(ctx, j) })
	}
	wg.Wait()
	return nil
}

func (e *Engine) jobLog(j *job) *zerolog.Logger {
	l := e.log.With().Str("kind", j.kind).Str("rule", j.name).Logger()
	return &l
}

// loop is one job's life on this instance: take the lease when it is free
// and the job not paused, hold it while it can, else wait for the next
// tick, the lease's RetryAt or a wake (run-now).
func (e *Engine) loop(ctx context.Context, j *job) {
	log := e.jobLog(j)
	for ctx.Err() == nil {
		wait := j.tick
		st, _, err := e.state.read(ctx, j.kind, j.name)
		switch {
		case err != nil:
			j.setErr(err)
			log.Warn().Err(err).Msg("job state unreadable; trying again next tick")
		case st.Paused:
			j.runNow.Store(false)
		default:
			l, err := e.leases.Acquire(ctx, j.kind, j.name, j.hash)
			var held *lease.HeldError
			switch {
			case err == nil:
				j.setOtherHash("", log)
				e.hold(ctx, j, l, log)
				continue
			case errors.As(err, &held):
				j.setOtherHash(held.Record.RuleHash, log)
				if !held.RetryAt.IsZero() {
					if d := held.RetryAt.Sub(e.now()); d < wait {
						wait = max(d, 100*time.Millisecond)
					}
				}
			case ctx.Err() != nil:
				return
			default:
				j.setErr(err)
				log.Warn().Err(err).Msg("lease not acquired; trying again next tick")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-e.after(wait):
		case <-j.wake:
		}
	}
}

// hold runs the job while this instance holds l: a Keeper renews it, a run
// starts every tick (or at once on a wake); it returns once the lease is
// no longer held, the job is paused (releasing it) or ctx ends.
func (e *Engine) hold(ctx context.Context, j *job, l *lease.Lease, log *zerolog.Logger) {
	hctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := lease.NewKeeper(l).Run(hctx); err != nil {
			log.Warn().Err(err).Uint64("token", l.Token()).Msg("lease lost: the run stops before its next write")
		}
	})
	defer func() {
		cancel()
		wg.Wait()
		j.mu.Lock()
		j.holding = nil
		j.mu.Unlock()
	}()
	j.mu.Lock()
	j.holding = l
	j.mu.Unlock()
	log.Info().Uint64("token", l.Token()).Str("at", stamp(e.now())).Msg("leading the job")
	for {
		st, _, err := e.state.read(hctx, j.kind, j.name)
		if err != nil {
			j.setErr(err)
		} else if st.Paused {
			log.Info().Uint64("token", l.Token()).Msg("job paused: releasing its lease")
			return
		} else {
			full := j.runNow.Swap(false) || st.LastFull.IsZero() || !e.now().Before(st.LastFull.Add(j.interval))
			trigger := "queue"
			if full {
				trigger = "full"
			}
			e.runOnce(hctx, j, l, full, trigger, log)
		}
		if l.Check() != nil || hctx.Err() != nil {
			return
		}
		select {
		case <-hctx.Done():
			return
		case <-l.Done():
			return
		case <-e.after(j.tick):
		case <-j.wake:
		}
	}
}

// runOnce runs the job's work once and records the run when it began one.
func (e *Engine) runOnce(ctx context.Context, j *job, l *lease.Lease, full bool, trigger string, log *zerolog.Logger) {
	p := &Progress{e: e, j: j, fence: l, trigger: trigger}
	p.run = Run{ID: newRunID(e.now()), Node: e.node, Token: l.Token(), Trigger: trigger, RuleHash: j.hash}
	p.log = log.With().Str("run", p.run.ID).Uint64("token", l.Token()).Logger()
	started := e.now()
	err := j.work.Run(ctx, l, full, p)
	if !p.begun() {
		if err != nil {
			j.setErr(err)
			log.Warn().Err(err).Uint64("token", l.Token()).Msg("run failed before its first write")
		}
		return
	}
	e.metrics.duration.WithLabelValues(j.kind, j.name).Observe(e.now().Sub(started).Seconds())
	p.finish(ctx, err, full)
}

func (j *job) setErr(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err == nil {
		j.lastErr = ""
		return
	}
	j.lastErr = err.Error()
}

// setOtherHash remembers the holder's rule hash when it differs from this
// instance's definition, and says so in the log once per change.
func (j *job) setOtherHash(h string, log *zerolog.Logger) {
	if h == j.hash {
		h = ""
	}
	j.mu.Lock()
	changed := h != j.otherHash
	j.otherHash = h
	j.mu.Unlock()
	if changed && h != "" {
		log.Warn().Str("rule_hash", j.hash).Str("holder_rule_hash", h).
			Msg("the lease holder runs a different definition of this rule: check the config files of the fleet")
	}
}

func (j *job) wakeUp() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// stamp is a log line's precise time (the lease history's order: no write
// of an older token after a newer token's acquisition).
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
