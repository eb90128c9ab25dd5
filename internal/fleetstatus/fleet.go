package fleetstatus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

// Options configure a Fleet.
type Options struct {
	// Store is the sync bucket; nil: no sync bucket, the view lists only
	// this instance (from Local) and nothing is published.
	Store Store
	// Node is this instance's node id.
	Node string
	// Local returns this instance's status now (UpdatedAt and
	// IntervalSeconds are filled in by the Fleet).
	Local func() Status
	// Key signs and verifies status objects (DeriveKey of the bootstrap
	// secret). Without it nothing verifies.
	Key []byte
	// Interval is how often the status is republished (default 30 s).
	Interval time.Duration
	// Watch is how often Local is compared with what was last published
	// (default 1 s).
	Watch time.Duration
	// Settle: a changed status is published once it stayed the same for
	// this long (checked every Watch; default 2 s), so that a burst of
	// changes costs one write, not one a second per instance.
	Settle time.Duration
	// MaxDelay: during changes that never pause, the status is published
	// at the latest this long after its first unpublished change (default
	// 10 s).
	MaxDelay time.Duration
	// Retention: status objects older than this are omitted from the
	// view and removed by Cleanup (default 24 h).
	Retention time.Duration
	// CleanupEvery is how often Run calls Cleanup (default 1 h).
	CleanupEvery time.Duration
	// Concurrency bounds the parallel reads of a listing (default 8).
	Concurrency int
	Now         func() time.Time
	Logger      zerolog.Logger
}

// Fleet publishes this instance's status and lists the fleet's. Its
// methods are safe for concurrent use.
type Fleet struct {
	o   Options
	log zerolog.Logger

	mu        sync.Mutex // guards the fields below; never held across a bucket request
	published *Status    // the last status written (UpdatedAt zeroed), nil before the first
	failing   bool       // the last publish failed (logged once per streak)
}

// New checks o and applies its defaults.
func New(o Options) (*Fleet, error) {
	if o.Local == nil {
		return nil, errors.New("fleet status: no local status")
	}
	if o.Store != nil && !ValidNode(o.Node) {
		return nil, fmt.Errorf("fleet status: node id %q cannot name a status object (no '/', no control characters)", o.Node)
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Watch <= 0 {
		o.Watch = DefaultWatch
	}
	if o.Settle <= 0 {
		o.Settle = DefaultSettle
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.CleanupEvery <= 0 {
		o.CleanupEvery = DefaultCleanupEvery
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Fleet{o: o, log: o.Logger.With().Str("component", "fleet-status").Logger()}, nil
}

// Enabled reports whether statuses are published to a sync bucket.
func (f *Fleet) Enabled() bool { return f.o.Store != nil }

// Node is this instance's node id.
func (f *Fleet) Node() string { return f.o.Node }

// local is Local with the Fleet's fields filled in.
func (f *Fleet) local() Status {
	st := f.o.Local()
	st.Node = f.o.Node
	st.IntervalSeconds = int(f.o.Interval / time.Second)
	st.UpdatedAt = f.o.Now().UTC()
	return st
}

// PublishLag is how long after a change this instance's status may still
// show the previous one (MaxDelay and a Watch, for a status changed just
// after a check), and how long the view waits after a change of the
// bucket's DB before it calls an instance behind.
func (f *Fleet) PublishLag() time.Duration { return f.o.MaxDelay + f.o.Watch }

// Publish writes this instance's status now.
func (f *Fleet) Publish(ctx context.Context) error {
	if f.o.Store == nil {
		return nil
	}
	return f.publish(ctx, f.local())
}

// PublishIfChanged writes this instance's status when it differs from the
// last one written (apart from its time), and reports whether it wrote.
func (f *Fleet) PublishIfChanged(ctx context.Context) (bool, error) {
	if f.o.Store == nil {
		return false, nil
	}
	st, differs := f.unpublished()
	if !differs {
		return false, nil
	}
	return true, f.publish(ctx, st)
}

// unpublished returns this instance's status and whether it differs from
// the last one written (apart from its time).
func (f *Fleet) unpublished() (Status, bool) {
	st := f.local()
	f.mu.Lock()
	defer f.mu.Unlock()
	return st, f.published == nil || !equalIgnoringTime(*f.published, st)
}

func (f *Fleet) publish(ctx context.Context, st Status) error {
	b, err := encode(st, f.o.Key)
	if err != nil {
		return err
	}
	err = f.o.Store.Put(ctx, Key(st.Node), b)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.published = nil // try again at the next watch
		if !f.failing && ctx.Err() == nil {
			f.log.Warn().Err(err).Msg("publish fleet status failed (retrying; logged once until it works again)")
		}
		f.failing = true
		return fmt.Errorf("publish fleet status: %w", err)
	}
	if f.failing {
		f.log.Info().Msg("fleet status published again")
	}
	f.failing = false
	st.UpdatedAt = time.Time{}
	f.published = &st
	return nil
}

// equalIgnoringTime compares two statuses apart from UpdatedAt.
func equalIgnoringTime(a, b Status) bool {
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	return a.Node == b.Node && a.Version == b.Version && a.Role == b.Role && a.Schema == b.Schema &&
		a.Generation == b.Generation && a.ETag == b.ETag && a.LastPull.Equal(b.LastPull) &&
		a.PullSource == b.PullSource && slices.Equal(a.EventSources, b.EventSources) &&
		a.AdminURL == b.AdminURL && a.IntervalSeconds == b.IntervalSeconds
}

// Run publishes at once, then every change once it settled (see
// Options.Settle and MaxDelay; checked every Watch) and every Interval,
// and calls Cleanup every CleanupEvery, until ctx ends.
// Failures are logged and retried; it returns nil when ctx ends. Without
// a Store it only waits for ctx.
func (f *Fleet) Run(ctx context.Context) error {
	if f.o.Store == nil {
		<-ctx.Done()
		return nil
	}
	_ = f.Publish(ctx)
	f.cleanup(ctx)
	watch := time.NewTicker(f.o.Watch)
	defer watch.Stop()
	beat := time.NewTicker(f.o.Interval)
	defer beat.Stop()
	clean := time.NewTicker(f.o.CleanupEvery)
	defer clean.Stop()
	d := f.newDebounce()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-watch.C:
			_, _ = d.check(ctx)
		case <-beat.C:
			_ = f.Publish(ctx)
			d.reset()
		case <-clean.C:
			f.cleanup(ctx)
		}
	}
}

func (f *Fleet) cleanup(ctx context.Context) {
	n, err := f.Cleanup(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		f.log.Warn().Err(err).Msg("fleet status cleanup failed")
	case n > 0:
		f.log.Info().Int("removed", n).Msg("removed the status of instances gone for longer than the retention")
	}
}

// Cleanup removes the status objects of instances gone for longer than
// Retention: both the status's updated_at (when it can be read) and the
// object's last modification are older. This instance's own is never
// removed. It returns how many it removed.
func (f *Fleet) Cleanup(ctx context.Context) (int, error) {
	if f.o.Store == nil {
		return 0, nil
	}
	entries, err := f.o.Store.List(ctx, Prefix)
	if err != nil {
		return 0, fmt.Errorf("list fleet status: %w", err)
	}
	cutoff := f.o.Now().Add(-f.o.Retention)
	n := 0
	var errs []error
	for _, e := range entries {
		if e.Key == Key(f.o.Node) || !strings.HasSuffix(e.Key, ".json") || !e.LastModified.Before(cutoff) {
			continue
		}
		b, err := f.o.Store.Get(ctx, e.Key)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st, _, err := decode(e.Key, b, f.o.Key); err == nil && !st.UpdatedAt.Before(cutoff) {
			continue
		}
		if err := f.o.Store.Delete(ctx, e.Key); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// List returns the fleet view: every instance whose status is not older
// than Retention, sorted by node, marked stale and behind. Without a
// Store it lists this instance alone, from its local state.
func (f *Fleet) List(ctx context.Context) (View, error) {
	self := f.local()
	v := View{IntervalSeconds: int(f.o.Interval / time.Second)}
	if f.o.Store == nil {
		v.BucketGeneration, v.BucketETag = self.Generation, self.ETag
		v.Instances = []Instance{{Status: self, Verified: true, Self: true}}
		return v, nil
	}
	cur, err := f.o.Store.Current(ctx)
	if err != nil {
		return View{}, fmt.Errorf("fleet view: %w", err)
	}
	v.BucketGeneration, v.BucketETag = cur.Generation, cur.ETag
	entries, err := f.o.Store.List(ctx, Prefix)
	if err != nil {
		return View{}, fmt.Errorf("fleet view: %w", err)
	}
	rows := make([]*Instance, len(entries))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(f.o.Concurrency)
	for i, e := range entries {
		if !strings.HasSuffix(e.Key, ".json") {
			continue
		}
		g.Go(func() error {
			b, err := f.o.Store.Get(gctx, e.Key)
			if errors.Is(err, ErrNotFound) { // removed since the listing
				return nil
			}
			if err != nil {
				return err
			}
			st, ok, err := decode(e.Key, b, f.o.Key)
			if err != nil {
				f.log.Debug().Err(err).Msg("skipping an unreadable status object")
				return nil
			}
			rows[i] = &Instance{Status: st, Verified: ok}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return View{}, fmt.Errorf("fleet view: %w", err)
	}
	now := f.o.Now()
	haveSelf := false
	for _, r := range rows {
		if r == nil || now.Sub(r.UpdatedAt) > f.o.Retention {
			continue
		}
		f.mark(r, now, cur)
		haveSelf = haveSelf || r.Self
		v.Instances = append(v.Instances, *r)
	}
	if !haveSelf { // not published yet (starting, or the bucket refused it)
		r := Instance{Status: self, Verified: true}
		f.mark(&r, now, cur)
		v.Instances = append(v.Instances, r)
	}
	slices.SortFunc(v.Instances, func(a, b Instance) int { return strings.Compare(a.Node, b.Node) })
	return v, nil
}

// mark sets the conclusions of the view on r. An instance is behind when
// it published an older generation than the bucket's, once the bucket's
// DB is older than PublishLag: until then its status may simply not be
// published yet (see Options.Settle).
func (f *Fleet) mark(r *Instance, now time.Time, bucket BucketDB) {
	interval := time.Duration(r.IntervalSeconds) * time.Second
	if interval <= 0 {
		interval = f.o.Interval
	}
	r.Stale = now.Sub(r.UpdatedAt) > StaleIntervals*interval
	r.Behind = r.Generation < bucket.Generation && now.Sub(bucket.Modified) > f.PublishLag()
	r.Self = r.Node == f.o.Node && r.Verified
	if !r.Verified {
		r.AdminURL = ""
	}
}

// Lookup returns the current, verified status of node, for proxying to
// it: ErrUnknownNode when it published none (or one older than
// Retention), an error naming the problem when its status is unverified.
func (f *Fleet) Lookup(ctx context.Context, node string) (Instance, error) {
	if node == f.o.Node {
		return Instance{Status: f.local(), Verified: true, Self: true}, nil
	}
	if f.o.Store == nil || !ValidNode(node) {
		return Instance{}, fmt.Errorf("%w: %q", ErrUnknownNode, node)
	}
	b, err := f.o.Store.Get(ctx, Key(node))
	if errors.Is(err, ErrNotFound) {
		return Instance{}, fmt.Errorf("%w: %q", ErrUnknownNode, node)
	}
	if err != nil {
		return Instance{}, fmt.Errorf("read status of %s: %w", node, err)
	}
	st, ok, err := decode(Key(node), b, f.o.Key)
	if err != nil {
		return Instance{}, err
	}
	now := f.o.Now()
	if now.Sub(st.UpdatedAt) > f.o.Retention {
		return Instance{}, fmt.Errorf("%w: %q (gone since %s)", ErrUnknownNode, node, st.UpdatedAt.Format(time.RFC3339))
	}
	if !ok {
		return Instance{}, fmt.Errorf("%w: %q", ErrUnverified, node)
	}
	r := Instance{Status: st, Verified: true}
	f.mark(&r, now, BucketDB{})
	return r, nil
}
