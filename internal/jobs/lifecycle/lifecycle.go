// Package lifecycle is the logic of storage.lifecycle rules: which objects a
// rule deletes or moves at a given time (Plan, the read-only preview) and
// doing it (Apply), independent of leases and scheduling. The jobs engine
// runs Apply under the rule's lease and passes the lease as the Fence;
// preview calls Plan and takes no lease.
//
// What a rule selects: the objects of rule.Bucket whose key starts with
// rule.Prefix, pass the rule's include/exclude globs (matched against the
// whole key) and are not under ".deltaglider/" (dgp's own objects, never
// touched). Ages are now - LastModified.
//
//   - delete: every selected object whose age has reached expire_after.
//   - transition: every selected object whose age has reached expire_after
//     is copied to destination (key K becomes destination.prefix +
//     K[len(prefix):]), unless the destination already holds the same
//     bytes; with delete_source_after_success the source is deleted once
//     the copy is verified.
//   - retain-newest: per directory (see groups below), the newest count
//     qualifying objects are kept and the other qualifying objects are
//     deleted, except those younger than protect_younger_than. An object
//     qualifies when its size is at least qualify.min_size_bytes and its
//     age at least qualify.min_age; objects that do not qualify are neither
//     counted nor deleted.
//
// Groups (retain-newest): a group is the objects directly in one directory
// of the rule's scope, the directory being the key up to its last '/'
// ("builds/main/42.zip" is in "builds/main/", "a.zip" in ""); objects in
// sub-directories belong to those. So count applies to each series of
// siblings, and one busy directory never thins another.
//
// Newest means the latest LastModified; equal times are ordered by key, the
// greater key being the newer.
//
// Both Plan and Apply stream the listing a page at a time (batch_size keys,
// at most 1000): memory is bounded by the page, by count per directory
// level for retain-newest, and by MaxActions for the actions they list.
// Apply decides object by object exactly as Plan does, so a preview lists
// what a run started at the same time and state would do.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// ReservedPrefix is the key prefix of dgp's own objects (leases, config
// sync, probes): no rule lists, deletes or writes under it.
const ReservedPrefix = ".deltaglider/"

// MaxActions bounds the actions listed in a Plan or a Result (the counts
// are always complete).
const MaxActions = 1000

// maxPage is the largest listing page asked for (S3's limit).
const maxPage = 1000

// maxConsecutiveFailures stops a run whose objects keep failing (a backend
// down): the run returns an error instead of failing every object.
const maxConsecutiveFailures = 10

// Store is what a lifecycle run needs of a storage backend; every
// storage.Backend is one.
type Store interface {
	ListObjects(ctx context.Context, bucket string, opts storage.ListOptions) (*storage.ListResult, error)
	HeadObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.ObjectInfo, error)
	GetObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.Object, error)
	PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64, opts storage.PutOptions) (*storage.PutResult, error)
	DeleteObject(ctx context.Context, bucket, key string, opts storage.DeleteOptions) (*storage.DeleteResult, error)
}

var _ Store = storage.Backend(nil)

// Resolver maps a client bucket name (as rules name buckets) to the store
// serving it and the bucket's name on that store.
type Resolver func(bucket string) (Store, string)

// RouterResolver resolves buckets as the S3 API does.
func RouterResolver(r *storage.Router) Resolver {
	return func(bucket string) (Store, string) { return r.Resolve(bucket) }
}

// StoreResolver serves every bucket from one store under its own name.
func StoreResolver(s Store) Resolver {
	return func(bucket string) (Store, string) { return s, bucket }
}

// Fence is checked before every write and delete of a run; a non-nil
// error stops the run at once (lease.Lease is one).
type Fence interface {
	Check() error
}

// Op is what an action does to one object.
type Op string

const (
	// OpDelete deletes the object.
	OpDelete Op = "delete"
	// OpTransition copies the object to the destination (and deletes the
	// source after the verified copy when Action.DeleteSource).
	OpTransition Op = "transition"
)

// Action is one object a run acts on, as listed.
type Action struct {
	Op           Op        `json:"op"`
	Bucket       string    `json:"bucket"` // client bucket
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"last_modified"`
	// Reason says why, for people: "age 31d >= expire_after 30d",
	// "3 newer qualifying objects in builds/main/".
	Reason string `json:"reason"`
	// DestinationBucket and DestinationKey (transition) are where the
	// copy goes; DeleteSource is delete_source_after_success.
	DestinationBucket string `json:"destination_bucket,omitempty"`
	DestinationKey    string `json:"destination_key,omitempty"`
	DeleteSource      bool   `json:"delete_source,omitempty"`
	// AlreadyAtDestination (transition with DeleteSource): the destination
	// already holds the same bytes; only the source's delete is left.
	AlreadyAtDestination bool `json:"already_at_destination,omitempty"`
}

// Stats count what a plan or a run saw.
type Stats struct {
	// Scanned is the number of selected objects listed (prefix, globs,
	// .deltaglider/ excluded).
	Scanned int64 `json:"scanned"`
	// Actions and ActionBytes are the objects acted on and their size.
	Actions     int64 `json:"actions"`
	ActionBytes int64 `json:"action_bytes"`
	// Protected (retain-newest) is the objects beyond count spared by
	// protect_younger_than.
	Protected int64 `json:"protected"`
	// AlreadyTransitioned (transition) is the objects already at the
	// destination with the same bytes; their copy is not repeated (their
	// source is still deleted when delete_source_after_success).
	AlreadyTransitioned int64 `json:"already_transitioned"`
}

// Plan is a preview: what a run would do at Now.
type Plan struct {
	Rule  string                     `json:"rule"`
	Type  config.LifecycleActionType `json:"type"`
	Now   time.Time                  `json:"now"`
	Stats Stats                      `json:"stats"`
	// Actions are the first MaxActions actions, in the order a run takes
	// them; Truncated says there were more.
	Actions   []Action `json:"actions"`
	Truncated bool     `json:"truncated"`
}

// Outcome is what became of an action in a run.
type Outcome string

const (
	// Deleted: the object (or a transitioned source) was deleted.
	Deleted Outcome = "deleted"
	// Copied: the object was copied to the destination and verified.
	Copied Outcome = "copied"
	// Skipped: nothing to do after all (the object changed or went away
	// since it was listed, or the destination already had it).
	Skipped Outcome = "skipped"
	// Failed: the action failed (Event.Err); the run goes on.
	Failed Outcome = "failed"
)

// Event reports one outcome of a run to the Observer. A transition with
// DeleteSource reports Copied (or Skipped when already there) then
// Deleted.
type Event struct {
	Action  Action
	Outcome Outcome
	// Bytes is the bytes copied or deleted.
	Bytes int64
	// Err is set when Outcome is Failed (or Skipped, saying why).
	Err error
}

// Observer receives a run's events as they happen (counters, failure
// rings, logs): one call at a time, from the run's workers (see ApplyWith).
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

// Observe calls f.
func (f ObserverFunc) Observe(e Event) { f(e) }

// Failure is an action that failed in a run.
type Failure struct {
	Action Action `json:"action"`
	Err    string `json:"error"`
}

// Result is what a run did.
type Result struct {
	Rule  string    `json:"rule"`
	Now   time.Time `json:"now"`
	Stats Stats     `json:"stats"` // as in Plan: what the run selected
	// Deleted, Copied, Skipped and Failed count outcomes (a moved object
	// counts once in Copied and once in Deleted).
	Deleted      int64 `json:"deleted"`
	Copied       int64 `json:"copied"`
	Skipped      int64 `json:"skipped"`
	Failed       int64 `json:"failed"`
	BytesDeleted int64 `json:"bytes_deleted"`
	BytesCopied  int64 `json:"bytes_copied"`
	// Done are the first MaxActions actions completed (every step done,
	// by this run or found done); Failures the first MaxActions failed.
	Done      []Action  `json:"done"`
	Failures  []Failure `json:"failures"`
	Truncated bool      `json:"truncated"`
}

// ErrReserved refuses a rule whose scope or destination is under
// .deltaglider/.
var ErrReserved = errors.New("lifecycle: " + ReservedPrefix + " is dgp's own and never touched")

// ErrTooManyFailures stops a run after consecutive failed objects.
var ErrTooManyFailures = errors.New("lifecycle: too many consecutive failures")

// PlanRule lists what a run of rule would do at now, reading only (the
// source listing and, for transition, the destination's HEADs).
func PlanRule(ctx context.Context, resolve Resolver, rule config.LifecycleRule, now time.Time) (*Plan, error) {
	p := &Plan{Rule: rule.Name, Type: rule.Action.Type, Now: now, Actions: []Action{}}
	err := scan(ctx, resolve, rule, now, &p.Stats, func(a Action, decideErr error) error {
		if decideErr != nil {
			return fmt.Errorf("%s %s/%s: %w", a.Op, a.Bucket, a.Key, decideErr)
		}
		if len(p.Actions) < MaxActions {
			p.Actions = append(p.Actions, a)
		} else {
			p.Truncated = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// DefaultConcurrency is the number of objects a run handles at once.
const DefaultConcurrency = 8

// Options tune a run.
type Options struct {
	// Concurrency is the number of objects handled at once (0:
	// DefaultConcurrency; 1: one at a time, in listing order).
	Concurrency int
}

// Apply runs rule at now: it decides object by object as PlanRule does
// and acts at once, calling fence.Check before every write and delete.
// A refused fence, a cancelled ctx or a failed listing stop the run and
// are returned (wrapped) with the Result so far: no write starts after a
// refusal (writes already under way are cancelled). An object that fails
// is reported (Observer, Result.Failures) and the run goes on, unless
// maxConsecutiveFailures fail in a row (ErrTooManyFailures).
//
// Apply is safe to repeat and to run twice at once: every step checks the
// state it changes (a source is deleted only if it still has the listed
// ETag, a copy is skipped when the destination has the same bytes, a
// source is deleted only after its copy is verified), so a run after a
// crash completes what was left without duplicates or loss. obs may be
// nil. Apply is ApplyWith with the default Options.
func Apply(ctx context.Context, resolve Resolver, rule config.LifecycleRule, now time.Time, fence Fence, obs Observer) (*Result, error) {
	return ApplyWith(ctx, resolve, rule, now, fence, obs, Options{})
}

// ApplyWith is Apply with options. With Concurrency > 1 the actions are
// handled by that many workers (fence.Check and the Observer are then
// called from them; the Observer one call at a time), and Result.Done
// and Failures are in completion order.
func ApplyWith(ctx context.Context, resolve Resolver, rule config.LifecycleRule, now time.Time, fence Fence, obs Observer, o Options) (*Result, error) {
	if fence == nil {
		return nil, errors.New("lifecycle: Apply without a fence")
	}
	n := o.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &runner{ctx: ctx, resolve: resolve, fence: fence, obs: obs,
		res: &Result{Rule: rule.Name, Now: now, Done: []Action{}, Failures: []Failure{}}}
	if n == 1 {
		err := scan(ctx, resolve, rule, now, &r.res.Stats, r.do)
		return r.res, err
	}
	type item struct {
		a   Action
		err error
	}
	work := make(chan item)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for it := range work {
				if err := r.do(it.a, it.err); err != nil {
					r.stop(err)
					cancel()
				}
			}
		})
	}
	err := scan(ctx, resolve, rule, now, &r.res.Stats, func(a Action, decideErr error) error {
		select {
		case work <- item{a, decideErr}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(work)
	wg.Wait()
	if stop := r.stopped(); stop != nil {
		return r.res, stop // the first reason a worker stopped, not the cancellation it caused
	}
	return r.res, err
}

// checkRule refuses what no run may do, whatever the config validation
// said.
func checkRule(rule config.LifecycleRule) error {
	if strings.HasPrefix(rule.Prefix, ReservedPrefix) {
		return fmt.Errorf("rule %s: prefix %q: %w", rule.Name, rule.Prefix, ErrReserved)
	}
	switch rule.Action.Type {
	case config.ActionDelete:
		if rule.ExpireAfter <= 0 {
			return fmt.Errorf("rule %s: delete without expire_after", rule.Name)
		}
	case config.ActionRetainNewest:
		if rule.Action.Count < 1 {
			return fmt.Errorf("rule %s: retain-newest with count %d", rule.Name, rule.Action.Count)
		}
	case config.ActionTransition:
		d := rule.Action.Destination
		if rule.ExpireAfter <= 0 {
			return fmt.Errorf("rule %s: transition without expire_after", rule.Name)
		}
		if d.Bucket == "" {
			return fmt.Errorf("rule %s: transition without destination bucket", rule.Name)
		}
		if strings.HasPrefix(d.Prefix, ReservedPrefix) {
			return fmt.Errorf("rule %s: destination prefix %q: %w", rule.Name, d.Prefix, ErrReserved)
		}
		if d.Bucket == rule.Bucket && (strings.HasPrefix(d.Prefix, rule.Prefix) || strings.HasPrefix(rule.Prefix, d.Prefix)) {
			return fmt.Errorf("rule %s: destination %s/%s overlaps the source %s/%s", rule.Name, d.Bucket, d.Prefix, rule.Bucket, rule.Prefix)
		}
	default:
		return fmt.Errorf("rule %s: unknown action %q", rule.Name, rule.Action.Type)
	}
	return nil
}
