package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgp-proxy/dgp/internal/lease"
)

// Status is a job as the Jobs API shows it: this instance's definition,
// and the fleet's truth read from the lease and state objects.
type Status struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Rule     string `json:"rule"`
	Enabled  bool   `json:"enabled"`
	Paused   bool   `json:"paused"`
	PausedBy string `json:"paused_by,omitempty"`
	// Status: disabled, paused, running (a run in progress), idle (led,
	// no run in progress), unled (no live lease).
	Status string `json:"status"`
	// Leader is the node holding the lease (empty when nobody does).
	Leader         string    `json:"leader,omitempty"`
	LeaderInstance string    `json:"leader_instance,omitempty"`
	Token          uint64    `json:"token,omitempty"`
	LeaseExpires   time.Time `json:"lease_expires,omitzero"`
	LeaseRenewed   time.Time `json:"lease_renewed,omitzero"`
	HeldHere       bool      `json:"held_here"`
	// RuleHash is this instance's definition; LeaderRuleHash the one the
	// lease records, and DefinitionDiffers says they differ.
	RuleHash          string `json:"rule_hash"`
	LeaderRuleHash    string `json:"leader_rule_hash,omitempty"`
	DefinitionDiffers bool   `json:"definition_differs"`
	// Progress is the run in progress; LastRun the last finished one.
	Progress *Run      `json:"progress,omitempty"`
	LastRun  *Run      `json:"last_run,omitempty"`
	LastFull time.Time `json:"last_full,omitzero"`
	NextFull time.Time `json:"next_full,omitzero"`
	Totals   Counts    `json:"counters"`
	// Node is the instance answering; LocalError the last error it saw
	// running or leasing this job.
	Node       string `json:"answered_by"`
	LocalError string `json:"local_error,omitempty"`
}

func (e *Engine) job(id string) (*job, error) {
	j, ok := e.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q (ids are replication:<name> and lifecycle:<name>)", ErrUnknownJob, id)
	}
	return j, nil
}

// List returns every job's status, in config order.
func (e *Engine) List(ctx context.Context) ([]Status, error) {
	out := make([]Status, 0, len(e.jobs))
	for _, j := range e.jobs {
		s, err := e.status(ctx, j)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Get returns one job's status.
func (e *Engine) Get(ctx context.Context, id string) (Status, error) {
	j, err := e.job(id)
	if err != nil {
		return Status{}, err
	}
	return e.status(ctx, j)
}

func (e *Engine) status(ctx context.Context, j *job) (Status, error) {
	s := Status{ID: j.id, Kind: j.kind, Rule: j.name, Enabled: j.enabled, RuleHash: j.hash, Node: e.node}
	st, _, err := e.state.read(ctx, j.kind, j.name)
	if err != nil {
		return Status{}, err
	}
	rec, err := e.leases.Read(ctx, j.kind, j.name)
	if err != nil && !errors.Is(err, lease.ErrNotFound) {
		return Status{}, err
	}
	now := e.now()
	if err == nil && rec.HeldAt(now) {
		s.Leader, s.LeaderInstance, s.Token = rec.Holder, rec.Instance, rec.Token
		s.LeaseExpires, s.LeaseRenewed = rec.Expires, rec.Renewed
		s.HeldHere = rec.Instance == e.leases.Instance()
	}
	if err == nil && rec.RuleHash != "" && rec.RuleHash != j.hash {
		s.LeaderRuleHash, s.DefinitionDiffers = rec.RuleHash, true
	}
	s.Paused, s.PausedBy = st.Paused, st.PausedBy
	if st.Current != nil && st.Current.Status == StatusRunning && s.Leader != "" && st.Current.Token == s.Token {
		c := *st.Current
		s.Progress = &c
	}
	if n := len(st.Runs); n > 0 {
		r := st.Runs[n-1]
		s.LastRun = &r
	}
	s.LastFull, s.Totals = st.LastFull, st.Totals
	if !st.LastFull.IsZero() {
		s.NextFull = st.LastFull.Add(j.interval)
	}
	switch {
	case !j.enabled:
		s.Status = "disabled"
	case st.Paused:
		s.Status = "paused"
	case s.Progress != nil:
		s.Status = "running"
	case s.Leader != "":
		s.Status = "idle"
	default:
		s.Status = "unled"
	}
	j.mu.Lock()
	s.LocalError = j.lastErr
	j.mu.Unlock()
	return s, nil
}

// Runs returns the job's recent runs, newest first (the run in progress
// first of all).
func (e *Engine) Runs(ctx context.Context, id string) ([]Run, error) {
	j, err := e.job(id)
	if err != nil {
		return nil, err
	}
	st, _, err := e.state.read(ctx, j.kind, j.name)
	if err != nil {
		return nil, err
	}
	out := make([]Run, 0, len(st.Runs)+1)
	if st.Current != nil {
		out = append(out, *st.Current)
	}
	for i := len(st.Runs) - 1; i >= 0; i-- {
		out = append(out, st.Runs[i])
	}
	return out, nil
}

// Failures returns the job's recent object failures, newest first.
func (e *Engine) Failures(ctx context.Context, id string) ([]Failure, error) {
	j, err := e.job(id)
	if err != nil {
		return nil, err
	}
	st, _, err := e.state.read(ctx, j.kind, j.name)
	if err != nil {
		return nil, err
	}
	out := make([]Failure, 0, len(st.Failures))
	for i := len(st.Failures) - 1; i >= 0; i-- {
		out = append(out, st.Failures[i])
	}
	return out, nil
}

// Pause stops the job fleet-wide: the holder lets the run in progress end
// and releases the lease before its next run, and no instance takes the
// lease while the flag is set.
func (e *Engine) Pause(ctx context.Context, id string) (Status, error) {
	return e.setPaused(ctx, id, true)
}

// Resume clears the fleet-wide pause.
func (e *Engine) Resume(ctx context.Context, id string) (Status, error) {
	return e.setPaused(ctx, id, false)
}

func (e *Engine) setPaused(ctx context.Context, id string, paused bool) (Status, error) {
	j, err := e.job(id)
	if err != nil {
		return Status{}, err
	}
	now := e.now().UTC()
	_, err = e.state.update(ctx, j.kind, j.name, nil, func(s *State) bool {
		if s.Paused == paused {
			return false
		}
		s.Paused = paused
		s.PausedBy, s.PausedAt = "", time.Time{}
		if paused {
			s.PausedBy, s.PausedAt = e.node, now
		}
		return true
	})
	if err != nil {
		return Status{}, err
	}
	e.jobLog(j).Info().Bool("paused", paused).Msg("job pause flag set")
	j.wakeUp()
	return e.status(ctx, j)
}

// RunNow asks for a full pass now. When another instance holds the lease
// it answers a *lease.HeldError naming the holder (the API's 409); else
// this instance's loop wakes and runs the job (taking the lease first).
func (e *Engine) RunNow(ctx context.Context, id string) (Status, error) {
	j, err := e.job(id)
	if err != nil {
		return Status{}, err
	}
	if !j.enabled {
		return Status{}, fmt.Errorf("%w: %s is disabled on this instance", ErrDisabled, id)
	}
	st, _, err := e.state.read(ctx, j.kind, j.name)
	if err != nil {
		return Status{}, err
	}
	if st.Paused {
		return Status{}, fmt.Errorf("%w: %s is paused (resume it first)", ErrPaused, id)
	}
	rec, err := e.leases.Read(ctx, j.kind, j.name)
	if err != nil && !errors.Is(err, lease.ErrNotFound) {
		return Status{}, err
	}
	if err == nil && rec.HeldAt(e.now()) && rec.Instance != e.leases.Instance() {
		return Status{}, &lease.HeldError{Record: rec}
	}
	j.runNow.Store(true)
	j.wakeUp()
	e.jobLog(j).Info().Msg("run requested")
	return e.status(ctx, j)
}

// More errors of the API.
var (
	// ErrDisabled: the job is disabled in this instance's config.
	ErrDisabled = errors.New("job disabled")
	// ErrPaused: the job is paused fleet-wide.
	ErrPaused = errors.New("job paused")
)

// Preview says what a run of the job would do now (read-only, no lease).
func (e *Engine) Preview(ctx context.Context, id string) (any, error) {
	j, err := e.job(id)
	if err != nil {
		return nil, err
	}
	if j.work == nil {
		return nil, fmt.Errorf("%w: %s (no lifecycle engine on this instance)", ErrNoPreview, id)
	}
	return j.work.Preview(ctx)
}
