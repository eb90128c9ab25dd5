package admin

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
)

// Refresher pulls the config DB from the sync bucket once (a conditional
// GET against the ETag held): the API calls it before answering that a
// referenced user, group or provider does not exist, so an entity created
// on another instance a moment ago is found even before its event (or the
// next poll) arrives. The config syncer's SyncNow is one.
type Refresher interface {
	SyncNow(ctx context.Context) (configsync.PullResult, error)
}

// refreshTimeout bounds the pull a miss waits for; an unreachable bucket
// then answers 404 from what the instance holds.
const refreshTimeout = 10 * time.Second

// pullGate runs the pulls of misses: misses arriving while a pull runs
// share the next one, and a miss never settles for a pull that began
// before it (that pull may predate the entity looked for). At most one
// pull runs at a time, however many misses come in.
type pullGate struct {
	r   Refresher
	mu  sync.Mutex
	cur *pullCall // the pull running, nil when none
}

type pullCall struct{ done chan struct{} }

// pull runs (or joins) one pull that begins after the call, and reports
// whether it finished before ctx ended.
func (g *pullGate) pull(ctx context.Context) bool {
	g.mu.Lock()
	prev := g.cur
	g.mu.Unlock()
	if prev != nil {
		select {
		case <-prev.done:
		case <-ctx.Done():
			return false
		}
	}
	g.mu.Lock()
	if c := g.cur; c != nil {
		// Begun after prev ended (or after the call): it will do.
		g.mu.Unlock()
		select {
		case <-c.done:
			return true
		case <-ctx.Done():
			return false
		}
	}
	c := &pullCall{done: make(chan struct{})}
	g.cur = c
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.cur = nil
		g.mu.Unlock()
		close(c.done)
	}()
	// Detached from this request's cancellation: others may be waiting
	// for this pull. Its outcome is the syncer's to log and count.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
	defer cancel()
	_, _ = g.r.SyncNow(pctx)
	return true
}

// freshState returns, for request r, what a finder calls on a miss: the
// first call pulls once and returns the snapshot then current, later
// calls return that snapshot without pulling again. Nil when the API has
// nothing to pull from.
func (a *API) freshState(r *http.Request) func() *configdb.State {
	if a.gate == nil {
		return nil
	}
	var (
		done bool
		st   *configdb.State
	)
	return func() *configdb.State {
		if !done {
			done = true
			if a.gate.pull(r.Context()) {
				st = a.iam.Current()
			}
		}
		return st
	}
}
