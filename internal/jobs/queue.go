package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dgp-proxy/dgp/internal/lease"
)

// maxDrain bounds the markers one run consumes; the rest wait for the next
// tick (the leader wakes at once when a run drained a full queue).
const maxDrain = 10000

// Write operations named in markers (informative: the leader looks at both
// sides of the key whatever the operation was).
const (
	OpPut      = "put"
	OpCopy     = "copy"
	OpComplete = "complete"
	OpDelete   = "delete"
)

// marker is a queued write: the leader makes the destination match the
// source's state of Key when it drains it, so a burst of writes on one key
// collapses to its last state.
type marker struct {
	Bucket string    `json:"bucket"`
	Key    string    `json:"key"`
	Op     string    `json:"op"`
	Node   string    `json:"node"`
	Time   time.Time `json:"time"`
}

// Enqueue records a write dgp served (bucket and key as the client named
// them) for every enabled replication rule covering it: one marker object
// per rule, written before the write is acknowledged. It returns the
// first error; a failed marker is also caught by the rule's next full
// reconcile.
func (e *Engine) Enqueue(ctx context.Context, bucket, key, op string) error {
	var first error
	for _, j := range e.repl[bucket] {
		if !j.enabled || !j.repl.eligible(key) {
			continue
		}
		now := e.now().UTC()
		body, _ := json.Marshal(marker{Bucket: bucket, Key: key, Op: op, Node: e.node, Time: now})
		var b [4]byte
		_, _ = rand.Read(b[:])
		name := QueueDir(j.name) + fmt.Sprintf("%020d-%s", now.UnixNano(), hex.EncodeToString(b[:]))
		if err := e.store.Put(ctx, name, body); err != nil {
			e.metrics.queued.WithLabelValues(j.name, "failed").Inc()
			e.jobLog(j).Warn().Err(err).Str("key", key).Str("op", op).
				Msg("write marker not queued: the next full reconcile replicates this write")
			if first == nil {
				first = err
			}
			continue
		}
		e.metrics.queued.WithLabelValues(j.name, "written").Inc()
	}
	return first
}

// Covers reports whether a write to bucket/key concerns any enabled
// replication rule (the S3 write path asks before calling Enqueue).
func (e *Engine) Covers(bucket, key string) bool {
	for _, j := range e.repl[bucket] {
		if j.enabled && j.repl.eligible(key) {
			return true
		}
	}
	return false
}

// CoversBucket reports whether a bucket is the source of an enabled
// replication rule.
func (e *Engine) CoversBucket(bucket string) bool {
	for _, j := range e.repl[bucket] {
		if j.enabled {
			return true
		}
	}
	return false
}

// readQueue lists the rule's markers (up to maxDrain) and reads them:
// their names and the distinct keys they name, in first-seen order.
func (r *replication) readQueue(ctx context.Context) ([]string, []string, error) {
	store := r.e.store
	dir := QueueDir(r.rule.Name)
	var names []string
	after := ""
	for len(names) < maxDrain {
		page, err := store.List(ctx, dir, after, min(listPage, maxDrain-len(names)))
		if err != nil {
			return nil, nil, err
		}
		if len(page) == 0 {
			break
		}
		names = append(names, page...)
		after = page[len(page)-1]
	}
	if len(names) == 0 {
		return nil, nil, nil
	}
	keys := make([]string, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.conc)
	for i, n := range names {
		g.Go(func() error {
			body, _, err := store.Get(gctx, n)
			if errors.Is(err, lease.ErrNotFound) {
				return nil // drained by an earlier holder
			}
			if err != nil {
				return err
			}
			var m marker
			if json.Unmarshal(body, &m) != nil || m.Bucket != r.rule.Source.Bucket {
				return nil // not ours to act on: deleted with the rest
			}
			keys[i] = m.Key
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, fmt.Errorf("read queue: %w", err)
	}
	seen := make(map[string]bool, len(keys))
	var distinct []string
	for _, k := range keys {
		if k != "" && !seen[k] && r.eligible(k) {
			seen[k] = true
			distinct = append(distinct, k)
		}
	}
	r.e.metrics.drained.WithLabelValues(r.rule.Name).Add(float64(len(names)))
	return names, distinct, nil
}

// deleteMarkers removes drained markers (fenced writes).
func (r *replication) deleteMarkers(ctx context.Context, fence lease.Fence, p *Progress, names []string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.conc)
	var mu sync.Mutex
	var firstErr error
	for _, n := range names {
		if !strings.HasPrefix(n, QueueDir(r.rule.Name)) {
			continue
		}
		g.Go(func() error {
			if err := fence.Check(); err != nil {
				return err
			}
			if err := r.e.store.Delete(gctx, n); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if firstErr != nil {
		p.Log().Warn().Err(firstErr).Msg("some drained markers not deleted: they are looked at again next tick")
	}
	if len(names) >= maxDrain {
		r.e.byID[r.rule.JobID()].wakeUp()
	}
	return nil
}
