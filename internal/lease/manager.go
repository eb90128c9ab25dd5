package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Options configure a Manager.
type Options struct {
	// Store is where lease objects live: NewBucketStore on the sync
	// bucket, or a DirStore without one. Required.
	Store Store
	// Node is this instance's node id, written as the holder. Required.
	Node string
	// TTL is lease_ttl (0: DefaultTTL), Heartbeat heartbeat_interval (0:
	// DefaultHeartbeat); Heartbeat < TTL.
	TTL, Heartbeat time.Duration
	// Margin is the clock skew margin (0: DefaultMargin(TTL, Heartbeat));
	// it must be less than TTL - Heartbeat.
	Margin time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// After is the Keeper's heartbeat timer (nil: time.After); tests
	// drive a Keeper with a channel they send on.
	After func(time.Duration) <-chan time.Time
	// Registerer gets the dgp_lease_* series (nil: not registered).
	Registerer prometheus.Registerer
	// Logger gets the lease events (acquired, stolen, lost, released,
	// clock skew seen), with kind, rule, token and node fields; the node
	// field is the Logger's own when it has one (internal/app's does),
	// else the Manager adds Node.
	Logger zerolog.Logger
}

// Manager takes leases for one instance. Safe for concurrent use; one per
// process (its random instance id marks the leases it holds).
type Manager struct {
	store                  Store
	node, instance         string
	ttl, heartbeat, margin time.Duration
	now                    func() time.Time
	after                  func(time.Duration) <-chan time.Time
	log                    zerolog.Logger // with node when Logger lacked it
	metrics                *metrics

	// mu guards obs and live; taken after a Lease's mu when both are
	// held, never held across a store request.
	mu   sync.Mutex
	obs  map[string]observation
	live map[string]*Lease // leases this Manager holds, by key
}

// observation is what this instance saw of a lease object, on its own
// clock: the ETag, when it first saw it (since) and last read it; when it
// saw it replace an earlier ETag (changed), the write happened after
// after (the last read of the earlier one) and at or before since.
type observation struct {
	etag                   string
	since, lastRead, after time.Time
	changed                bool
	warned                 bool // a clock-skew warning was logged for this ETag
}

// New returns a Manager for o.
func New(o Options) (*Manager, error) {
	if o.Store == nil {
		return nil, fmt.Errorf("%w: no store", ErrInvalid)
	}
	if o.Node == "" {
		return nil, fmt.Errorf("%w: no node id", ErrInvalid)
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if errs := Validate("lease", o.TTL, o.Heartbeat); len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	if o.Margin == 0 {
		o.Margin = DefaultMargin(o.TTL, o.Heartbeat)
	}
	if o.Margin < 0 || o.Margin >= o.TTL-o.Heartbeat {
		return nil, fmt.Errorf("%w: margin %s must be at least 0 and less than lease_ttl - heartbeat_interval (%s)",
			ErrInvalid, o.Margin, o.TTL-o.Heartbeat)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	log := o.Logger
	if !namesNode(log) {
		log = log.With().Str("node", o.Node).Logger()
	}
	return &Manager{
		store: o.Store, node: o.Node, instance: randomID(),
		ttl: o.TTL, heartbeat: o.Heartbeat, margin: o.Margin,
		now: o.Now, after: o.After, log: log,
		metrics: newMetrics(o.Registerer),
		obs:     map[string]observation{},
		live:    map[string]*Lease{},
	}, nil
}

// Node returns the node id, Instance this Manager's random instance id
// (the record's instance field), TTL, Heartbeat and Margin the settings
// in use.
func (m *Manager) Node() string             { return m.node }
func (m *Manager) TTL() time.Duration       { return m.ttl }
func (m *Manager) Heartbeat() time.Duration { return m.heartbeat }
func (m *Manager) Margin() time.Duration    { return m.margin }
func (m *Manager) Instance() string         { return m.instance }
func (m *Manager) nowUTC() time.Time        { return m.now().UTC() }
func (m *Manager) logger(kind, rule string) *zerolog.Logger {
	l := m.log.With().Str("kind", kind).Str("rule", rule).Logger()
	return &l
}

// namesNode reports whether l's own fields include node, by rendering an
// empty line of it into a buffer (l's writer gets nothing): a second node
// key would make the JSON line ambiguous.
func namesNode(l zerolog.Logger) bool {
	var b bytes.Buffer
	probe := l.Output(&b)
	probe.Log().Send()
	return bytes.Contains(b.Bytes(), []byte(`"node":`))
}

// Read returns the lease object of rule of kind as it is in the store
// (ErrNotFound when it was never taken), for status pages: whether
// anyone holds it is Record.HeldAt. It takes nothing.
func (m *Manager) Read(ctx context.Context, kind, rule string) (Record, error) {
	if err := checkNames(kind, rule); err != nil {
		return Record{}, err
	}
	rec, _, err := m.read(ctx, Key(kind, rule))
	if err != nil {
		return Record{}, err
	}
	if rec == nil {
		return Record{}, fmt.Errorf("%w: %s", ErrNotFound, Key(kind, rule))
	}
	return *rec, nil
}

// HeldAt reports whether the record names a live holder at now by the
// object's own times (not released, not past Expires).
func (r Record) HeldAt(now time.Time) bool { return !r.Released && now.Before(r.Expires) }

// Acquire takes the lease of rule of kind for a run of the rule whose
// definition hashes to ruleHash. It creates the object when absent, takes
// it at once when released (or still held by this Manager, e.g. after a
// missed renewal), steals it when it expired, and otherwise answers a
// *HeldError (errors.Is ErrHeld). Every acquisition raises the token.
func (m *Manager) Acquire(ctx context.Context, kind, rule, ruleHash string) (*Lease, error) {
	if err := checkNames(kind, rule); err != nil {
		return nil, err
	}
	key := Key(kind, rule)
	if l := m.liveLease(key); l != nil {
		return nil, &HeldError{Record: l.Record()}
	}
	var pending string // nonce of our last write whose answer was a conflict
	for attempt := 0; ; attempt++ {
		cur, etag, err := m.read(ctx, key)
		if err != nil {
			return nil, err
		}
		if cur != nil && pending != "" && cur.Nonce == pending {
			// Our write went through; its answer was lost (a retried
			// conditional write answers 412).
			return m.hold(kind, rule, *cur, etag, cur.Renewed, false), nil
		}
		steal := false
		if cur != nil {
			ok, s, retryAt := m.takeable(key, *cur)
			if !ok {
				return nil, &HeldError{Record: *cur, RetryAt: retryAt}
			}
			steal = s
		}
		sent := m.nowUTC()
		rec := Record{
			Version: 1, Kind: kind, Rule: rule, Holder: m.node, Instance: m.instance, Token: 1,
			Acquired: sent, Renewed: sent, Expires: sent.Add(m.ttl), TTLMillis: m.ttl.Milliseconds(),
			RuleHash: ruleHash, Nonce: randomID(),
		}
		body, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		var newETag string
		if cur == nil {
			newETag, err = m.store.PutIfNoneMatch(ctx, key, body)
		} else {
			rec.Token = cur.Token + 1
			if body, err = json.Marshal(rec); err != nil {
				return nil, err
			}
			newETag, err = m.store.PutIfMatch(ctx, key, body, etag)
		}
		switch {
		case err == nil:
			return m.hold(kind, rule, rec, newETag, sent, steal), nil
		case errors.Is(err, ErrConflict) && attempt < 2:
			pending = rec.Nonce // someone else wrote first, or our answer was lost: look again
			continue
		}
		return nil, err
	}
}

// hold records a successful acquisition and returns the Lease.
func (m *Manager) hold(kind, rule string, rec Record, etag string, sent time.Time, steal bool) *Lease {
	l := &Lease{
		m: m, kind: kind, rule: rule, key: Key(kind, rule), token: rec.Token,
		rec: rec, etag: etag, deadline: sent.Add(m.ttl - m.margin), done: make(chan struct{}),
	}
	m.mu.Lock()
	m.live[l.key] = l
	m.mu.Unlock()
	m.metrics.acquisitions.WithLabelValues(kind, rule).Inc()
	if steal {
		m.metrics.steals.WithLabelValues(kind, rule).Inc()
	}
	m.metrics.held.WithLabelValues(kind, rule).Set(1)
	m.logger(kind, rule).Info().Uint64("token", rec.Token).Bool("steal", steal).
		Time("expires", rec.Expires).Msg("lease acquired")
	return l
}

// liveLease returns the lease of key this Manager holds, if its fence is
// still open: a second run of the same rule in this process must not
// re-take it while the first may still write.
func (m *Manager) liveLease(key string) *Lease {
	m.mu.Lock()
	l := m.live[key]
	m.mu.Unlock()
	if l == nil || l.state() != nil {
		return nil
	}
	return l
}

// forget drops l from the live leases (it is no longer held).
func (m *Manager) forget(l *Lease) {
	m.mu.Lock()
	if m.live[l.key] == l {
		delete(m.live, l.key)
	}
	m.mu.Unlock()
}

// read gets and decodes the lease object (nil when absent) and records
// the observation of its ETag on this instance's clock.
func (m *Manager) read(ctx context.Context, key string) (*Record, string, error) {
	body, etag, err := m.store.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var rec Record
	if err := json.Unmarshal(body, &rec); err != nil {
		return nil, "", fmt.Errorf("lease object %s is not a lease record: %w", key, err)
	}
	now := m.now()
	m.mu.Lock()
	o, seen := m.obs[key]
	if !seen || o.etag != etag {
		o = observation{etag: etag, since: now, changed: seen, after: o.lastRead}
	}
	o.lastRead = now
	m.obs[key] = o
	m.mu.Unlock()
	return &rec, etag, nil
}

// takeable decides whether cur may be taken now, and whether that is a
// steal. A steal needs an expired lease: either this instance saw the
// same ETag for the holder's ttl + margin on its own clock (no clock skew
// can fool that), or the object's own Expires + margin has passed on this
// instance's clock, unless the holder's clock is seen to disagree with
// this one by more than the margin (its Renewed in this instance's
// future, or outside the interval in which this instance saw the write
// happen): then only the observation judges.
func (m *Manager) takeable(key string, cur Record) (ok, steal bool, retryAt time.Time) {
	if cur.Released || cur.Instance == m.instance {
		return true, false, time.Time{}
	}
	now := m.now()
	ttl := max(cur.TTL(), m.ttl)
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.obs[key]
	byObservation := o.since.Add(ttl + m.margin)
	if now.After(byObservation) {
		return true, true, time.Time{}
	}
	retryAt = byObservation.Add(time.Millisecond)
	skewed := cur.Renewed.After(now.Add(m.margin)) ||
		o.changed && (cur.Renewed.Before(o.after.Add(-m.margin)) || cur.Renewed.After(o.since.Add(m.margin)))
	if !skewed {
		byTimes := cur.Expires.Add(m.margin)
		if now.After(byTimes) {
			return true, true, time.Time{}
		}
		return false, false, minTime(retryAt, byTimes.Add(time.Millisecond))
	}
	if !o.warned {
		o.warned = true
		m.obs[key] = o
		m.logger(cur.Kind, cur.Rule).Warn().Str("holder", cur.Holder).Time("renewed", cur.Renewed).
			Time("expires", cur.Expires).Time("seen", o.since.UTC()).Dur("margin", m.margin).
			Msg("lease holder's clock disagrees with this instance's by more than the margin; judging expiry by observation")
	}
	return false, false, retryAt
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func checkNames(kind, rule string) error {
	if !ValidName(kind) {
		return fmt.Errorf("%w: kind %q (want [A-Za-z0-9_.-]{1,64})", ErrInvalid, kind)
	}
	if !ValidName(rule) {
		return fmt.Errorf("%w: rule %q (want [A-Za-z0-9_.-]{1,64})", ErrInvalid, rule)
	}
	return nil
}
