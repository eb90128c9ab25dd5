//go:build integration

package upgradetest

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

// sharedGroup is created before the workload; every worker adds its users
// to it and removes them again, so concurrent changes meet on one group.
const sharedGroup = "shared"

// A fact is one thing the final DB must show: a user exists (or not), is
// enabled (or not), is a member of a group (or not), a group exists.
type fact struct {
	kind        string // "user", "enabled", "member", "group"
	user, group string
}

func (f fact) String() string {
	switch f.kind {
	case "user":
		return "user " + f.user + " exists"
	case "enabled":
		return "user " + f.user + " is enabled"
	case "member":
		return "user " + f.user + " is a member of " + f.group
	default:
		return "group " + f.group + " exists"
	}
}

// truth is what the acknowledged mutations say about a fact.
type truth int

const (
	unknown truth = iota // the last mutation touching it got no answer or a 5xx
	yes
	no
)

// A worker mutates IAM through one node's admin API, one request at a
// time, on entities only it touches (its users and groups, and its users'
// membership of the shared group), and records what every acknowledged
// (2xx) change implies. A refused change (4xx) changes nothing anywhere;
// one without an answer, or with a 5xx, may or may not have been made, so
// the facts it touches become unknown until a later acknowledged change
// sets them again.
type worker struct {
	id    int
	node  *node
	adm   *admin
	facts map[fact]truth
	ops   []string // every mutation and its answer, for the failure report
	// failed counts the answers that were not acknowledgements, by status
	// and error code ("409 fleet_mid_upgrade"), "no answer" for none.
	failed map[string]int

	acked, refused, noAnswer int
}

// workload runs the workers until stop is closed.
type workload struct {
	workers []*worker
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	acks    atomic.Int64 // acknowledged mutations so far, all workers
}

func startWorkload(nodes []*node, perNode int) *workload {
	w := &workload{stop: make(chan struct{})}
	for i := 0; i < perNode*len(nodes); i++ {
		n := nodes[i%len(nodes)]
		wk := &worker{id: i, node: n, adm: newAdmin(n), facts: map[fact]truth{}, failed: map[string]int{}}
		w.workers = append(w.workers, wk)
		w.wg.Go(func() { wk.run(w) })
	}
	return w
}

// waitAcks blocks until at least n more mutations have been acknowledged
// (pacing, not an assertion: the harness lets the workload make progress
// in each mixed state of the fleet) or the wait fails the test.
func (w *workload) waitAcks(t *testing.T, n int64) {
	t.Helper()
	target := w.acks.Load() + n
	deadline := time.Now().Add(2 * convergeFor)
	for w.acks.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("the workload made no progress: %d acknowledged mutations, waiting for %d", w.acks.Load(), target)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// finish stops the workers and waits for them; safe to call again.
func (w *workload) finish() {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
}

func (wk *worker) run(w *workload) {
	var prevGroup string
	for c := 0; ; c++ {
		u := fmt.Sprintf("w%d-u%d", wk.id, c)
		g := fmt.Sprintf("w%d-g%d", wk.id, c)
		if prevGroup == "" {
			prevGroup = g
		}
		steps := []func(){
			func() { wk.createUser(u) },
			func() { wk.createGroup(g) },
			func() { wk.member(true, u, g) },
			func() { wk.member(true, u, sharedGroup) },
			func() {
				if c%2 == 0 {
					wk.member(false, u, sharedGroup)
				} else {
					wk.disable(u)
				}
			},
			func() {
				if c%3 == 0 {
					wk.deleteUser(u)
				} else {
					wk.member(true, u, prevGroup)
				}
			},
		}
		for _, step := range steps {
			select {
			case <-w.stop:
				return
			default:
			}
			before := wk.acked
			step()
			if wk.acked > before {
				w.acks.Add(1)
			} else {
				time.Sleep(100 * time.Millisecond) // the node may be restarting
			}
		}
		prevGroup = g
	}
}

// record applies one mutation's answer to the facts it touches.
func (wk *worker) record(what string, ans answer, err error, facts map[fact]truth) {
	switch {
	case err != nil:
		wk.ops = append(wk.ops, fmt.Sprintf("%s on %s: no answer: %v", what, wk.node.name, err))
		wk.failed["no answer"]++
	default:
		wk.ops = append(wk.ops, fmt.Sprintf("%s on %s: %d", what, wk.node.name, ans.code))
		if !ans.ok() {
			wk.failed[ans.errorCode()]++
		}
	}
	switch {
	case err == nil && ans.ok():
		wk.acked++
		for f, v := range facts {
			wk.facts[f] = v
		}
	case err == nil && ans.refused():
		wk.refused++
	default:
		wk.noAnswer++
		for f := range facts {
			wk.facts[f] = unknown
		}
	}
}

func (wk *worker) createUser(u string) {
	ans, err := wk.adm.do(http.MethodPost, "/users", map[string]any{"name": u})
	wk.record("create user "+u, ans, err, map[fact]truth{{kind: "user", user: u}: yes, {kind: "enabled", user: u}: yes})
}

func (wk *worker) createGroup(g string) {
	ans, err := wk.adm.do(http.MethodPost, "/groups", map[string]any{"name": g})
	wk.record("create group "+g, ans, err, map[fact]truth{{kind: "group", group: g}: yes})
}

func (wk *worker) member(add bool, u, g string) {
	var ans answer
	var err error
	what, v := "add "+u+" to "+g, yes
	if add {
		ans, err = wk.adm.do(http.MethodPost, "/groups/"+g+"/members", map[string]any{"user_id": u})
	} else {
		what, v = "remove "+u+" from "+g, no
		ans, err = wk.adm.do(http.MethodDelete, "/groups/"+g+"/members/"+u, nil)
	}
	wk.record(what, ans, err, map[fact]truth{{kind: "member", user: u, group: g}: v, {kind: "user", user: u}: yes, {kind: "group", group: g}: yes})
}

func (wk *worker) disable(u string) {
	ans, err := wk.adm.do(http.MethodPut, "/users/"+u, map[string]any{"enabled": false})
	wk.record("disable "+u, ans, err, map[fact]truth{{kind: "enabled", user: u}: no, {kind: "user", user: u}: yes})
}

func (wk *worker) deleteUser(u string) {
	ans, err := wk.adm.do(http.MethodDelete, "/users/"+u, nil)
	wk.record("delete user "+u, ans, err, map[fact]truth{{kind: "user", user: u}: no})
}

// A view is a final state to check facts against: the DB opened from the
// bucket, or an instance's admin API.
type view struct {
	name   string
	user   func(name string) (id string, enabled bool, groupIDs []string, ok bool)
	group  func(name string) (id string, memberIDs []string, ok bool)
	bySide string // which side(s) of a membership the view shows
}

func dbView(st *configdb.State) view {
	return view{
		name: "the sync bucket's DB",
		user: func(name string) (string, bool, []string, bool) {
			u, ok := st.UserByName(name)
			return u.ID, u.Enabled, u.GroupIDs, ok
		},
		group: func(name string) (string, []string, bool) {
			g, ok := st.GroupByName(name)
			return g.ID, nil, ok // membership is read on the user's side
		},
	}
}

func apiView(name string, users map[string]apiUser, groups map[string]apiGroup) view {
	return view{
		name: name,
		user: func(name string) (string, bool, []string, bool) {
			u, ok := users[name]
			return u.ID, u.Enabled, u.GroupIDs, ok
		},
		group: func(name string) (string, []string, bool) {
			g, ok := groups[name]
			return g.ID, g.MemberIDs, ok
		},
		bySide: "both",
	}
}

// check asserts every known fact of every worker in v and returns how many
// facts were checked.
func (w *workload) check(t *testing.T, v view) int {
	t.Helper()
	checked := 0
	for _, wk := range w.workers {
		facts := make([]fact, 0, len(wk.facts))
		for f := range wk.facts {
			facts = append(facts, f)
		}
		slices.SortFunc(facts, cmpFact)
		for _, f := range facts {
			want := wk.facts[f]
			if want == unknown {
				continue
			}
			if f.kind != "user" && f.kind != "group" && wk.facts[fact{kind: "user", user: f.user}] != yes {
				continue // about a user whose existence is not known
			}
			checked++
			if err := v.holds(f, want == yes); err != nil {
				t.Errorf("worker %d: acknowledged change lost in %s: %v\n%s", wk.id, v.name, err, wk.history(f))
			}
		}
	}
	return checked
}

func cmpFact(a, b fact) int {
	return cmp.Or(strings.Compare(a.kind, b.kind), strings.Compare(a.user, b.user), strings.Compare(a.group, b.group))
}

// holds checks one fact.
func (v view) holds(f fact, want bool) error {
	id, enabled, gids, uok := v.user(f.user)
	switch f.kind {
	case "user":
		if uok != want {
			return fmt.Errorf("%s: %v, want %v", f, uok, want)
		}
	case "group":
		if _, _, ok := v.group(f.group); ok != want {
			return fmt.Errorf("%s: %v, want %v", f, ok, want)
		}
	case "enabled":
		if !uok || enabled != want {
			return fmt.Errorf("%s: %v (user found: %v), want %v", f, enabled, uok, want)
		}
	case "member":
		gid, members, gok := v.group(f.group)
		if !uok || !gok {
			return fmt.Errorf("%s: user found %v, group found %v", f, uok, gok)
		}
		if got := slices.Contains(gids, gid); got != want {
			return fmt.Errorf("%s: the user's group_ids say %v, want %v", f, got, want)
		}
		if v.bySide == "both" {
			if got := slices.Contains(members, id); got != want {
				return fmt.Errorf("%s: the group's member_ids say %v, want %v", f, got, want)
			}
		}
	}
	return nil
}

// totals sums the workers' counters; codes counts the answers that were
// not acknowledgements, by status ("no answer" for transport failures).
func (w *workload) totals() (acked, refused, noAnswer int, codes string) {
	count := map[string]int{}
	for _, wk := range w.workers {
		acked += wk.acked
		refused += wk.refused
		noAnswer += wk.noAnswer
		for k, v := range wk.failed {
			count[k] += v
		}
	}
	keys := slices.Sorted(maps.Keys(count))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, count[k])
	}
	return acked, refused, noAnswer, strings.Join(parts, ", ")
}

// history returns the worker's mutations that name the fact's user or
// group.
func (wk *worker) history(f fact) string {
	var b strings.Builder
	for _, op := range wk.ops {
		if (f.user != "" && strings.Contains(op, " "+f.user+" ")) || (f.group != "" && strings.Contains(op, " "+f.group+" ")) {
			b.WriteString("\t" + op + "\n")
		}
	}
	return b.String()
}
