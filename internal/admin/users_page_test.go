package admin

import (
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestUsersPagination walks GET /users with limit/after and q, as the GUI
// does, and checks the compatibility default (no limit: everything).
func TestUsersPagination(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	for i := range 7 {
		c.must(http.StatusCreated, "POST", "/users", map[string]any{"name": fmt.Sprintf("user-%02d", i)})
	}
	c.must(http.StatusCreated, "POST", "/users", map[string]any{"name": "Zed-Ops"})

	names := func(r *response) []string {
		var list []map[string]any
		r.json(t, &list)
		out := make([]string, len(list))
		for i, u := range list {
			out[i] = u["name"].(string)
		}
		return out
	}

	all := c.must(http.StatusOK, "GET", "/users", nil)
	if got := names(all); len(got) != 8 || all.header.Get("X-Next-After") != "" || all.header.Get("X-Total-Count") != "8" {
		t.Fatalf("no limit: %v, headers %v", got, all.header)
	}

	var walked []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination never ends")
		}
		r := c.must(http.StatusOK, "GET", "/users?limit=3&after="+after, nil)
		page := names(r)
		if len(page) > 3 {
			t.Fatalf("page of %d with limit 3", len(page))
		}
		walked = append(walked, page...)
		after = r.header.Get("X-Next-After")
		if after == "" {
			break
		}
		if after != page[len(page)-1] {
			t.Fatalf("next after %q, last of page %q", after, page[len(page)-1])
		}
	}
	if fmt.Sprint(walked) != fmt.Sprint(names(all)) {
		t.Fatalf("walked %v, want %v", walked, names(all))
	}

	// q matches case-insensitively; the total counts the matches. (q also
	// searches ids, hex, and access key ids, [A-Z0-9]: a query with a
	// hyphen matches names only; "zed" once matched a random access key.)
	r := c.must(http.StatusOK, "GET", "/users?q=zed-&limit=5", nil)
	if got := names(r); len(got) != 1 || got[0] != "Zed-Ops" || r.header.Get("X-Total-Count") != "1" {
		t.Fatalf("q=zed-: %v %v", got, r.header)
	}
	r = c.must(http.StatusOK, "GET", "/users?q=USER-0&limit=2", nil)
	if got := names(r); len(got) != 2 || r.header.Get("X-Total-Count") != "7" || r.header.Get("X-Next-After") != "user-01" {
		t.Fatalf("q=USER-0: %v %v", got, r.header)
	}
	// An empty page past the end is an empty array.
	r = c.must(http.StatusOK, "GET", "/users?limit=2&after=zzz", nil)
	if got := names(r); len(got) != 0 {
		t.Fatalf("past the end: %v", got)
	}
	for _, bad := range []string{"0", "-1", "x", "1001"} {
		wantError(t, c.do("GET", "/users?limit="+bad, nil), http.StatusBadRequest, "invalid")
	}
}

// copiedUsers ranges over a slice of users ordered by name.
type copiedUsers []iam.User

func (c copiedUsers) NumUsers() int { return len(c) }

func (c copiedUsers) UsersPage(after string, f func(u *iam.User) bool) {
	i := 0
	if after != "" {
		i = sort.Search(len(c), func(i int) bool { return c[i].Name > after })
	}
	for ; i < len(c); i++ {
		if !f(&c[i]) {
			return
		}
	}
}

// countingRanger is a userRanger that counts the users it hands out.
type countingRanger struct {
	copiedUsers
	visited int
}

func (c *countingRanger) UsersPage(after string, f func(u *iam.User) bool) {
	c.copiedUsers.UsersPage(after, func(u *iam.User) bool {
		c.visited++
		return f(u)
	})
}

// TestPageUsersStopsAtThePage: without a search, a page visits only its
// own users (plus one to know more follow), not the whole DB.
func TestPageUsersStopsAtThePage(t *testing.T) {
	users := make(copiedUsers, 100)
	for i := range users {
		users[i] = iam.User{ID: fmt.Sprintf("id%03d", i), Name: fmt.Sprintf("u%03d", i)}
	}
	src := &countingRanger{copiedUsers: users}
	page, total, next := pageUsers(src, "", "u049", 10)
	if len(page) != 10 || page[0].Name != "u050" || page[9].Name != "u059" || total != 100 || next != "u059" {
		t.Fatalf("page %d [%s..], total %d, next %q", len(page), page[0].Name, total, next)
	}
	if src.visited != 11 {
		t.Fatalf("visited %d users for a page of 10", src.visited)
	}
	page, total, next = pageUsers(src, "", "u095", 10)
	if len(page) != 4 || total != 100 || next != "" {
		t.Fatalf("last page: %d, total %d, next %q", len(page), total, next)
	}
	// The page's users are copies: changing one leaves the source alone.
	users[0].Permissions = []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionRead}, Resources: []string{"b/*"}}}
	page, _, _ = pageUsers(src, "", "", 1)
	page[0].Permissions[0].Resources[0] = "changed"
	if users[0].Permissions[0].Resources[0] != "b/*" {
		t.Fatal("a page shares its users' slices with the state")
	}
	// A search counts every match.
	src.visited = 0
	page, total, next = pageUsers(src, "u09", "", 3)
	if len(page) != 3 || total != 10 || next != "u092" || src.visited != 100 {
		t.Fatalf("search: %d, total %d, next %q, visited %d", len(page), total, next, src.visited)
	}
}

// BenchmarkPageUsers10k: one page of 50 from 10,000 users through
// State.UsersPage (no copy), and the same through a copy of every user
// (State.Users, what the list did before UsersPage).
func BenchmarkPageUsers10k(b *testing.B) {
	users, groups := testutil.BigIAM(10_000, 20)
	st, err := configdb.NewState(1, configdb.Data{Users: users, Groups: groups})
	if err != nil {
		b.Fatal(err)
	}
	middle := st.Users()[5000].Name
	for _, c := range []struct {
		name, q, after string
		src            func() userRanger
	}{
		{"copy/first_page", "", "", func() userRanger { return copiedUsers(st.Users()) }},
		{"state/first_page", "", "", func() userRanger { return st }},
		{"state/middle_page", "", middle, func() userRanger { return st }},
		{"state/search", "user-0099", "", func() userRanger { return st }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if page, _, _ := pageUsers(c.src(), c.q, c.after, 50); len(page) != 50 {
					b.Fatalf("page of %d", len(page))
				}
			}
		})
	}
}

func TestContainsFold(t *testing.T) {
	for _, c := range []struct {
		s, q string
		want bool
	}{
		{"Zed-Ops", "zed", true}, {"Zed-Ops", "d-op", true}, {"AKQ3N8W1", "q3n", true},
		{"alice", "", true}, {"alice", "alicex", false}, {"alice", "bob", false},
		{"Ünïcode-Name", "ünï", true}, {"ALICE", "lic", true},
	} {
		if got := containsFold(c.s, c.q); got != c.want {
			t.Errorf("containsFold(%q, %q) = %v", c.s, c.q, got)
		}
	}
}
