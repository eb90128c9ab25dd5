package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// The IAM workload: one worker per instance mutates users it owns
// (create, disable, delete, add to the worker's group) through that
// instance's admin API. Each user's expected final state follows from the
// answers: an acknowledged change must be there at the end; a change
// refused for sure (4xx, and 503 "not made anywhere") must not; a change
// without an answer (a killed instance, a timeout) may be either, and the
// user is not touched again.

// Outcomes of one mutation.
const (
	acked     = "acked"     // 2xx: must be in the final DB
	refused   = "refused"   // 4xx: must not
	notMade   = "not_made"  // 503 sync_unavailable: "not made anywhere"
	ambiguous = "ambiguous" // no answer: either
)

// mutation is one admin API call of the workload.
type mutation struct {
	Worker     int
	Op         string // create | disable | delete | join
	User       string
	Start, End time.Time
	Outcome    string
	Status     int
}

// userState is a user's possible final states ("absent", "enabled",
// "disabled", with "+group" when in the worker's group).
type userState struct {
	name    string
	allowed []string // the final state must be one of these
	cur     string   // the state if every answer is taken at its word
	frozen  bool     // an answer was missing: no more ops on it
	lastAck int      // index in ledger.muts of its last acknowledged op (-1: none)
	// phantom: the state reached only if a change answered "not made
	// anywhere" (503) was made after all, and that op (index in
	// ledger.muts); the user is not touched again after such an answer.
	phantom   string
	phantomOp int
}

type ledger struct {
	mu    sync.Mutex
	muts  []mutation
	users map[string]*userState
}

func newLedger() *ledger { return &ledger{users: map[string]*userState{}} }

func (l *ledger) add(m mutation) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.muts = append(l.muts, m)
	return len(l.muts) - 1
}

// iamWorker mutates users through instance in until ctx ends.
type iamWorker struct {
	idx   int
	in    *Instance
	admin *adminClient
	led   *ledger
	rng   *rand.Rand
	group string
	n     int
	live  []*userState // users not frozen and not deleted
}

func (w *iamWorker) run(ctx context.Context) {
	for ctx.Err() == nil {
		w.step(ctx)
	}
}

func (w *iamWorker) step(ctx context.Context) {
	if len(w.live) < 3 || w.rng.IntN(10) < 4 {
		w.n++
		u := &userState{name: fmt.Sprintf("w%d-u%d", w.idx, w.n), allowed: []string{"absent"}, cur: "absent", lastAck: -1}
		w.led.mu.Lock()
		w.led.users[u.name] = u
		w.led.mu.Unlock()
		w.mutate(ctx, u, "create", http.MethodPost, "/users", map[string]any{"name": u.name}, "enabled")
		return
	}
	u := w.live[w.rng.IntN(len(w.live))]
	switch r := w.rng.IntN(10); {
	case r < 3 && !strings.HasPrefix(u.cur, "disabled"):
		w.mutate(ctx, u, "disable", http.MethodPut, "/users/"+u.name, map[string]any{"enabled": false},
			strings.Replace(u.cur, "enabled", "disabled", 1))
	case r < 6 && !strings.HasSuffix(u.cur, "+group"):
		w.mutate(ctx, u, "join", http.MethodPost, "/groups/"+w.group+"/members", map[string]any{"user_id": u.name}, u.cur+"+group")
	default:
		w.mutate(ctx, u, "delete", http.MethodDelete, "/users/"+u.name, nil, "absent")
	}
}

func (w *iamWorker) mutate(ctx context.Context, u *userState, op, method, path string, body any, next string) {
	m := mutation{Worker: w.idx, Op: op, User: u.name, Start: time.Now()}
	code, resp, err := w.admin.do(ctx, w.in, method, path, body)
	m.End, m.Status = time.Now(), code
	switch {
	case ctx.Err() != nil && err != nil:
		m.Outcome = ambiguous
	case err != nil || code >= 500 && code != http.StatusServiceUnavailable:
		m.Outcome = ambiguous
	case code == http.StatusServiceUnavailable && bytes.Contains(resp, []byte(`"sync_outcome_unknown"`)):
		m.Outcome = ambiguous // "the change may have been made"
	case code == http.StatusServiceUnavailable:
		m.Outcome = notMade
	case code >= 200 && code < 300:
		m.Outcome = acked
	default:
		m.Outcome = refused
	}
	i := w.led.add(m)
	if m.Outcome != acked {
		sleep(ctx, 200*time.Millisecond) // the fleet is impaired: do not spin
	}
	w.led.mu.Lock()
	defer w.led.mu.Unlock()
	switch m.Outcome {
	case acked:
		u.cur, u.allowed, u.lastAck = next, []string{next}, i
	case ambiguous:
		u.allowed = append(u.allowed, next)
		u.frozen = true
	case notMade:
		u.phantom, u.phantomOp = next, i
		u.frozen = true
	}
	w.live = w.live[:0:0]
	for _, x := range w.led.users {
		if strings.HasPrefix(x.name, fmt.Sprintf("w%d-", w.idx)) && !x.frozen && x.cur != "absent" {
			w.live = append(w.live, x)
		}
	}
	sort.Slice(w.live, func(a, b int) bool { return w.live[a].name < w.live[b].name })
}

// ensureGroup creates the worker's group (retried until it exists).
func (w *iamWorker) ensureGroup(ctx context.Context) error {
	return retry(ctx, 60*time.Second, 300*time.Millisecond, func() error {
		code, b, err := w.admin.do(ctx, w.in, http.MethodPost, "/groups", map[string]any{"name": w.group})
		if err != nil {
			return err
		}
		if code == http.StatusCreated || code == http.StatusConflict {
			return nil
		}
		return fmt.Errorf("create group %s: %d %s", w.group, code, b)
	})
}

// finalStates reads every user's state from an instance's admin API.
func finalStates(ctx context.Context, a *adminClient, in *Instance) (map[string]string, error) {
	code, b, err := a.do(ctx, in, http.MethodGet, "/users", nil)
	if err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("list users: %d %v %s", code, err, b)
	}
	var users []struct {
		ID       string   `json:"id"`
		Name     string   `json:"name"`
		Enabled  bool     `json:"enabled"`
		GroupIDs []string `json:"group_ids"`
	}
	if err := json.Unmarshal(b, &users); err != nil {
		return nil, err
	}
	code, b, err = a.do(ctx, in, http.MethodGet, "/groups", nil)
	if err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("list groups: %d %v %s", code, err, b)
	}
	var groups []struct {
		ID        string   `json:"id"`
		Name      string   `json:"name"`
		MemberIDs []string `json:"member_ids"`
	}
	if err := json.Unmarshal(b, &groups); err != nil {
		return nil, err
	}
	// a user is "+group" when it is in the group of its own worker
	groupOf := map[string]string{} // group id -> name
	members := map[string]map[string]bool{}
	for _, g := range groups {
		groupOf[g.ID] = g.Name
		members[g.Name] = map[string]bool{}
		for _, m := range g.MemberIDs {
			members[g.Name][m] = true
		}
	}
	out := map[string]string{}
	for _, u := range users {
		st := "enabled"
		if !u.Enabled {
			st = "disabled"
		}
		worker, _, _ := strings.Cut(u.Name, "-")
		g := "g-" + worker
		in := members[g][u.ID] || slices.ContainsFunc(u.GroupIDs, func(id string) bool { return groupOf[id] == g })
		if in {
			st += "+group"
		}
		out[u.Name] = st
	}
	return out, nil
}

// lostMutation is an acknowledged mutation missing from the final DB.
type lostMutation struct {
	mutation
	Want []string
	Got  string
}

// verify compares the final states with the ledger: lost acknowledged
// mutations, and phantoms (changes answered "not made anywhere" that were
// made after all).
func (l *ledger) verify(final map[string]string) (lost, phantoms []lostMutation, checked int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, u := range l.users {
		got, ok := final[name]
		if !ok {
			got = "absent"
		}
		checked++
		if slices.Contains(u.allowed, got) {
			continue
		}
		if u.phantom != "" && u.phantom == got {
			phantoms = append(phantoms, lostMutation{mutation: l.muts[u.phantomOp], Want: u.allowed, Got: got})
			continue
		}
		lm := lostMutation{Want: u.allowed, Got: got}
		if u.lastAck >= 0 {
			lm.mutation = l.muts[u.lastAck]
		} else {
			lm.mutation = mutation{User: name, Op: "(none acknowledged)"}
		}
		lost = append(lost, lm)
	}
	sort.Slice(lost, func(a, b int) bool { return lost[a].User < lost[b].User })
	sort.Slice(phantoms, func(a, b int) bool { return phantoms[a].User < phantoms[b].User })
	return lost, phantoms, checked
}
