//go:build integration

package app

import (
	"net/http"
	"testing"
)

// Two instances share a sync bucket, with no event source and an hour's
// poll: a user created on A is found by name on B at once (B pulls once
// before answering 404), and a body reference to it on B resolves too.
func TestHolesNameCreatedElsewhereFoundAtOnce(t *testing.T) {
	f := newFleet(t, false)
	a := f.start(nil)
	b := f.start(nil)
	admA, admB := a.admin(t), b.admin(t)
	admA.login(a.cfg.Access.BootstrapPassword)
	admB.login(b.cfg.Access.BootstrapPassword) // B serves: its startup pull is done
	var before []apiUser
	admB.must(http.StatusOK, http.MethodGet, "/users", nil, &before)
	if len(before) != 0 {
		t.Fatalf("B starts with users %v", before)
	}

	u := admA.createUser("made-on-a", allow([]string{"list"}, "*"))
	var got apiUser
	admB.must(http.StatusOK, http.MethodGet, "/users/made-on-a", nil, &got)
	if got.ID != u.ID {
		t.Fatalf("B found %+v, want id %s", got, u.ID)
	}

	// A group created on A, referenced by name in a body sent to B.
	var grp struct {
		ID string `json:"id"`
	}
	admA.must(http.StatusCreated, http.MethodPost, "/groups", map[string]any{"name": "team-on-a"}, &grp)
	var joined apiUser
	admB.must(http.StatusOK, http.MethodPut, "/users/made-on-a", map[string]any{"group_ids": []string{"team-on-a"}}, &joined)
	if len(joined.GroupIDs) != 1 || joined.GroupIDs[0] != grp.ID {
		t.Fatalf("B resolved group_ids to %v, want [%s]", joined.GroupIDs, grp.ID)
	}
	// A name that exists nowhere is still 404.
	if code := admB.do(http.MethodGet, "/users/nobody", nil, nil); code != http.StatusNotFound {
		t.Fatalf("GET /users/nobody on B: %d, want 404", code)
	}
}
