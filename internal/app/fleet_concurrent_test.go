//go:build integration

package app

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// Three instances, forty concurrent mutations spread over them through the
// admin API (creates, updates, deletes, group changes): afterwards every
// instance holds exactly the same state and every acknowledged mutation is
// in it.
func TestFleetConcurrentMutations(t *testing.T) {
	f := newFleet(t, false)
	nodes := []*instance{f.start(nil), f.start(nil), f.start(nil)}
	admins := make([]*adminClient, len(nodes))
	for i, n := range nodes {
		admins[i] = n.admin(t)
		admins[i].login(n.cfg.Access.BootstrapPassword)
	}
	// Seed: 20 users and 2 groups, created on node 0. Each seed user is
	// touched by one concurrent mutation at most.
	for i := 0; i < 20; i++ {
		admins[0].createUser(fmt.Sprintf("seed-%02d", i), allow([]string{"list"}, "*"))
	}
	for _, g := range []string{"g0", "g1"} {
		admins[0].must(http.StatusCreated, http.MethodPost, "/groups", map[string]any{"name": g}, nil)
	}

	// The other instances learn the seed (here by sync-now; in production
	// the bucket's events do it): names are resolved against an instance's
	// own snapshot before the change is published.
	for _, c := range admins[1:] {
		c.must(http.StatusOK, http.MethodPost, "/config/sync-now", nil, nil)
	}
	// One more change, which instances 1 and 2 do not pull: their first
	// mutation below is published from a stale snapshot, so the
	// compare-and-swap path (conflict, rebase) runs whatever the timing of
	// the concurrent ones (on a loaded machine they can come one by one).
	admins[0].createUser("stale-maker", allow([]string{"list"}, "*"))

	type result struct {
		what string
		code int
	}
	results := make([]result, 40)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c := admins[i%3]
			switch i % 4 {
			case 0, 1: // create
				name := fmt.Sprintf("new-%02d", i)
				results[i] = result{"create " + name, c.do(http.MethodPost, "/users", map[string]any{"name": name}, nil)}
			case 2: // update a seed user
				name := fmt.Sprintf("seed-%02d", i/4)
				results[i] = result{"disable " + name, c.do(http.MethodPut, "/users/"+name, map[string]any{"enabled": false}, nil)}
			case 3: // group membership, or a delete
				name := fmt.Sprintf("seed-%02d", 10+i/4)
				if i%8 == 3 {
					results[i] = result{"join g" + fmt.Sprint(i%2) + " " + name, c.do(http.MethodPost, fmt.Sprintf("/groups/g%d/members", i%2), map[string]any{"user_id": name}, nil)}
				} else {
					results[i] = result{"delete " + name, c.do(http.MethodDelete, "/users/"+name, nil, nil)}
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, r := range results {
		if r.code >= 300 {
			t.Errorf("%s: status %d", r.what, r.code)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Every instance converges on the same state (sync-now everywhere).
	var views [][]byte
	for i, n := range nodes {
		admins[i].must(http.StatusOK, http.MethodPost, "/config/sync-now", nil, nil)
		b, err := n.app.syncer.Current().MarshalJSONView(true)
		testutil.Must(t, err, "view")
		views = append(views, b)
	}
	for i := 1; i < len(views); i++ {
		if !bytes.Equal(views[0], views[i]) {
			t.Fatalf("instance %d holds another state than instance 0", i)
		}
	}
	st := nodes[0].app.syncer.Current()
	for i := 0; i < 40; i++ {
		switch {
		case i%4 <= 1:
			if _, ok := st.UserByName(fmt.Sprintf("new-%02d", i)); !ok {
				t.Errorf("acknowledged create new-%02d is lost", i)
			}
		case i%4 == 2:
			if u, ok := st.UserByName(fmt.Sprintf("seed-%02d", i/4)); !ok || u.Enabled {
				t.Errorf("acknowledged disable of seed-%02d is lost (found %v)", i/4, ok)
			}
		case i%8 == 3:
			u, ok := st.UserByName(fmt.Sprintf("seed-%02d", 10+i/4))
			g, gok := st.GroupByName(fmt.Sprintf("g%d", i%2))
			if !ok || !gok || !contains(u.GroupIDs, g.ID) {
				t.Errorf("acknowledged membership of seed-%02d in g%d is lost", 10+i/4, i%2)
			}
		default:
			if _, ok := st.UserByName(fmt.Sprintf("seed-%02d", 10+i/4)); ok {
				t.Errorf("acknowledged delete of seed-%02d is lost", 10+i/4)
			}
		}
	}
	// 20 seed users + 2 groups + stale-maker + 40 mutations: one
	// generation each.
	if got := st.Generation(); got != 63 {
		t.Errorf("generation = %d, want 63 (one per acknowledged mutation)", got)
	}
	var rebased uint64
	for _, n := range nodes {
		rebased += n.app.syncer.Status().ConflictsRebased
	}
	t.Logf("compare-and-swap conflicts rebased across the fleet: %d", rebased)
	if rebased == 0 {
		t.Error("forty concurrent mutations on three instances rebased nothing: the compare-and-swap path was not exercised")
	}
}
