package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgp-proxy/dgp/internal/lease"
)

// maxRuns bounds each job's ring of recent runs.
const maxRuns = 50

// maxCASAttempts bounds the read-modify-write retries of a state update.
const maxCASAttempts = 20

// Counts are the counters of a run, and of a job since its state object
// was created.
type Counts struct {
	Listed  int64 `json:"listed"`
	Copied  int64 `json:"copied"`
	Skipped int64 `json:"skipped"`
	Deleted int64 `json:"deleted"`
	Failed  int64 `json:"failed"`
	Bytes   int64 `json:"bytes"`
}

func (c *Counts) add(o Counts) {
	c.Listed += o.Listed
	c.Copied += o.Copied
	c.Skipped += o.Skipped
	c.Deleted += o.Deleted
	c.Failed += o.Failed
	c.Bytes += o.Bytes
}

// Run statuses.
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusPartial   = "partial" // completed, some objects failed
	StatusFailed    = "failed"  // stopped: fenced, listing failed, interrupted
)

// Run is one run of a job by its lease holder.
type Run struct {
	ID       string    `json:"id"`
	Node     string    `json:"node"`
	Token    uint64    `json:"token"`
	Trigger  string    `json:"trigger"` // queue, full, run-now
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`
	Finished time.Time `json:"finished,omitzero"`
	Status   string    `json:"status"`
	Error    string    `json:"error,omitempty"`
	RuleHash string    `json:"rule_hash,omitempty"`
	Counts   Counts    `json:"counts"`
}

// Failure is one object a run could not handle.
type Failure struct {
	Time  time.Time `json:"time"`
	Run   string    `json:"run"`
	Node  string    `json:"node"`
	Token uint64    `json:"token"`
	Key   string    `json:"key,omitempty"`
	Op    string    `json:"op"`
	Error string    `json:"error"`
}

// State is a job's state object (.deltaglider/jobs/state/<kind>/<rule>.json),
// compare-and-swapped by every writer: the holder's runs and progress,
// anyone's pause and resume.
type State struct {
	Version  int       `json:"v"`
	Kind     string    `json:"kind"`
	Rule     string    `json:"rule"`
	Paused   bool      `json:"paused"`
	PausedBy string    `json:"paused_by,omitempty"`
	PausedAt time.Time `json:"paused_at,omitzero"`
	// LastFull is when the last complete full pass started (a reconcile
	// of replication, a run of lifecycle): the next is due Interval later.
	LastFull time.Time `json:"last_full,omitzero"`
	// Current is the run in progress (or the last one, left running by a
	// holder that died: its lease says whether it still lives).
	Current  *Run      `json:"current,omitempty"`
	Runs     []Run     `json:"runs"`     // newest last, at most maxRuns
	Failures []Failure `json:"failures"` // newest last, bounded
	Totals   Counts    `json:"totals"`
}

// stateStore reads and updates state objects.
type stateStore struct {
	s           Store
	maxFailures int
}

// read returns the state (zero with kind and rule when absent) and its ETag.
func (st stateStore) read(ctx context.Context, kind, rule string) (State, string, error) {
	body, etag, err := st.s.Get(ctx, StateKey(kind, rule))
	if errors.Is(err, lease.ErrNotFound) {
		return State{Version: 1, Kind: kind, Rule: rule}, "", nil
	}
	if err != nil {
		return State{}, "", err
	}
	var s State
	if err := json.Unmarshal(body, &s); err != nil {
		return State{}, "", fmt.Errorf("job state %s/%s: %w", kind, rule, err)
	}
	return s, etag, nil
}

// update applies f to the state with compare-and-swap, retrying on a
// concurrent change. When fence is not nil it is checked before every
// write (a holder's progress); f returning false writes nothing.
func (st stateStore) update(ctx context.Context, kind, rule string, fence lease.Fence, f func(*State) bool) (State, error) {
	for range maxCASAttempts {
		s, etag, err := st.read(ctx, kind, rule)
		if err != nil {
			return State{}, err
		}
		if !f(&s) {
			return s, nil
		}
		if len(s.Runs) > maxRuns {
			s.Runs = append([]Run(nil), s.Runs[len(s.Runs)-maxRuns:]...)
		}
		if len(s.Failures) > st.maxFailures {
			s.Failures = append([]Failure(nil), s.Failures[len(s.Failures)-st.maxFailures:]...)
		}
		body, err := json.Marshal(s)
		if err != nil {
			return State{}, err
		}
		if fence != nil {
			if err := fence.Check(); err != nil {
				return State{}, err
			}
		}
		if etag == "" {
			_, err = st.s.PutIfNoneMatch(ctx, StateKey(kind, rule), body)
		} else {
			_, err = st.s.PutIfMatch(ctx, StateKey(kind, rule), body, etag)
		}
		if errors.Is(err, lease.ErrConflict) {
			continue
		}
		if err != nil {
			return State{}, err
		}
		return s, nil
	}
	return State{}, fmt.Errorf("job state %s/%s: %d concurrent changes in a row", kind, rule, maxCASAttempts)
}
