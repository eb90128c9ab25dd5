package admin

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

func TestGroupsCRUD(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	if r := c.must(http.StatusOK, "GET", "/groups", nil); strings.TrimSpace(string(r.body)) != "[]" {
		t.Fatalf("empty list: %s", r.body)
	}
	u1 := c.createUser(map[string]any{"name": "u1"})
	u2 := c.createUser(map[string]any{"name": "u2"})
	id1, id2 := u1["id"].(string), u2["id"].(string)

	r := c.must(http.StatusCreated, "POST", "/groups", map[string]any{
		"name": "team", "description": "the team", "member_ids": []string{"u1"},
		"permissions": []map[string]any{{"effect": "Allow", "actions": []string{"*"}, "resources": []string{"team-*"}}},
	})
	g := r.obj(t)
	gid := g["id"].(string)
	if g["name"] != "team" || g["description"] != "the team" || !slices.Equal(anyStrings(g["member_ids"]), []string{id1}) {
		t.Fatalf("create answer %s", r.body)
	}
	if loc := r.header.Get("Location"); loc != Prefix+"/groups/"+gid {
		t.Fatalf("Location %q", loc)
	}
	var list []map[string]any
	c.must(http.StatusOK, "GET", "/groups", nil).json(t, &list)
	if len(list) != 1 || list[0]["name"] != "team" {
		t.Fatalf("list %v", list)
	}
	c.must(http.StatusOK, "GET", "/groups/team", nil)

	wantError(t, c.do("POST", "/groups", map[string]any{"name": "team"}), http.StatusConflict, "conflict")
	for _, b := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": "x", "permissions": []map[string]any{{"effect": "Allow", "actions": []string{"read"}}}}, "permissions[0].resources"},
		{map[string]any{"name": "x", "member_ids": []string{"ghost"}}, "member_ids[0]"},
		{map[string]any{"name": "x", "description": "bad\x01text"}, "description"},
		{map[string]any{"name": "no spaces"}, "name"},
	} {
		if m := wantError(t, c.do("POST", "/groups", b.body), http.StatusBadRequest, "invalid"); m["field"] != b.field {
			t.Fatalf("%v: field %v, want %q", b.body, m["field"], b.field)
		}
	}

	// Members: add by name, both sides follow; adding twice is a no-op.
	g = c.must(http.StatusOK, "POST", "/groups/team/members", map[string]any{"user_id": "u2"}).obj(t)
	if !slices.Equal(anyStrings(g["member_ids"]), sorted(id1, id2)) {
		t.Fatalf("after add %v", g)
	}
	c.must(http.StatusOK, "POST", "/groups/"+gid+"/members", map[string]any{"user_id": id2})
	if u, _ := h.iam.Current().User(id2); !slices.Equal(u.GroupIDs, []string{gid}) {
		t.Fatalf("user side %+v", u)
	}
	if m := wantError(t, c.do("POST", "/groups/team/members", map[string]any{"user_id": "ghost"}), http.StatusBadRequest, "invalid"); m["field"] != "user_id" {
		t.Fatalf("unknown member %v", m)
	}
	if m := wantError(t, c.do("POST", "/groups/team/members", map[string]any{}), http.StatusBadRequest, "invalid"); m["field"] != "user_id" {
		t.Fatalf("missing user_id %v", m)
	}
	wantError(t, c.do("POST", "/groups/nogroup/members", map[string]any{"user_id": "u1"}), http.StatusNotFound, "not_found")

	g = c.must(http.StatusOK, "DELETE", "/groups/team/members/u1", nil).obj(t)
	if !slices.Equal(anyStrings(g["member_ids"]), []string{id2}) {
		t.Fatalf("after remove %v", g)
	}
	wantError(t, c.do("DELETE", "/groups/team/members/ghost", nil), http.StatusNotFound, "not_found")
	wantError(t, c.do("DELETE", "/groups/nogroup/members/u1", nil), http.StatusNotFound, "not_found")

	// Update: rename, replace members and rules.
	g = c.must(http.StatusOK, "PUT", "/groups/team", map[string]any{"name": "crew", "member_ids": []string{"u1"}, "permissions": []any{}}).obj(t)
	if g["name"] != "crew" || !slices.Equal(anyStrings(g["member_ids"]), []string{id1}) || len(g["permissions"].([]any)) != 0 || g["description"] != "the team" {
		t.Fatalf("after update %v", g)
	}
	if u, _ := h.iam.Current().User(id2); len(u.GroupIDs) != 0 {
		t.Fatalf("removed member still lists the group: %+v", u)
	}
	c.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "other"})
	wantError(t, c.do("PUT", "/groups/crew", map[string]any{"name": "other"}), http.StatusConflict, "conflict")
	if m := wantError(t, c.do("PUT", "/groups/crew", map[string]any{"member_ids": []string{"ghost"}}), http.StatusBadRequest, "invalid"); m["field"] != "member_ids[0]" {
		t.Fatalf("bad member %v", m)
	}
	for _, rt := range []struct{ method, path string }{{"GET", "/groups/nope"}, {"PUT", "/groups/nope"}, {"DELETE", "/groups/nope"}} {
		wantError(t, c.do(rt.method, rt.path, map[string]any{}), http.StatusNotFound, "not_found")
	}

	c.must(http.StatusNoContent, "DELETE", "/groups/crew", nil)
	wantError(t, c.do("GET", "/groups/"+gid, nil), http.StatusNotFound, "not_found")
	if u, _ := h.iam.Current().User(id1); len(u.GroupIDs) != 0 {
		t.Fatalf("deleted group still on the user: %+v", u)
	}
}

func TestProvidersCRUD(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	if r := c.must(http.StatusOK, "GET", "/auth-providers", nil); strings.TrimSpace(string(r.body)) != "[]" {
		t.Fatalf("empty list: %s", r.body)
	}
	const secret = "very-secret-client-secret"
	r := c.must(http.StatusCreated, "POST", "/auth-providers", map[string]any{
		"name": "corp", "issuer_url": "https://login.example.com", "client_id": "dgp",
		"client_secret": secret, "scopes": []string{"openid", "email"}, "display_name": "Corp SSO",
	})
	if strings.Contains(string(r.body), secret) {
		t.Fatalf("create answer shows the client secret: %s", r.body)
	}
	p := r.obj(t)
	pid := p["id"].(string)
	if p["type"] != "oidc" || p["enabled"] != true || p["client_secret"] != configdb.Masked || p["issuer_url"] != "https://login.example.com" {
		t.Fatalf("create answer %v", p)
	}
	if loc := r.header.Get("Location"); loc != Prefix+"/auth-providers/"+pid {
		t.Fatalf("Location %q", loc)
	}
	for _, path := range []string{"/auth-providers", "/auth-providers/corp", "/auth-providers/" + pid} {
		if body := c.must(http.StatusOK, "GET", path, nil).body; strings.Contains(string(body), secret) || !strings.Contains(string(body), configdb.Masked) {
			t.Fatalf("GET %s: %s", path, body)
		}
	}
	wantError(t, c.do("POST", "/auth-providers", map[string]any{"name": "corp"}), http.StatusConflict, "conflict")
	for _, b := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": "x", "issuer_url": "ftp://nope"}, "issuer_url"},
		{map[string]any{"name": "x", "type": "OIDC!"}, "type"},
		{map[string]any{"name": "x", "scopes": []string{"a", "a"}}, "scopes[1]"},
		{map[string]any{"name": "x", "client_secret": configdb.Masked}, "client_secret"},
	} {
		if m := wantError(t, c.do("POST", "/auth-providers", b.body), http.StatusBadRequest, "invalid"); m["field"] != b.field {
			t.Fatalf("%v: field %v, want %q", b.body, m["field"], b.field)
		}
	}

	// Sending the mask back keeps the secret; a new value replaces it.
	p = c.must(http.StatusOK, "PUT", "/auth-providers/corp", map[string]any{"client_secret": configdb.Masked, "priority": 5, "enabled": false}).obj(t)
	if p["priority"] != float64(5) || p["enabled"] != false {
		t.Fatalf("update answer %v", p)
	}
	if got, _ := h.iam.Current().Provider(pid); got.ClientSecret != secret {
		t.Fatal("the mask replaced the secret")
	}
	c.must(http.StatusOK, "PUT", "/auth-providers/"+pid, map[string]any{"client_secret": "rotated-secret"})
	if got, _ := h.iam.Current().Provider(pid); got.ClientSecret != "rotated-secret" {
		t.Fatal("new secret not stored")
	}
	if m := wantError(t, c.do("PUT", "/auth-providers/corp", map[string]any{"issuer_url": "not a url"}), http.StatusBadRequest, "invalid"); m["field"] != "issuer_url" {
		t.Fatalf("update validation %v", m)
	}
	c.must(http.StatusCreated, "POST", "/auth-providers", map[string]any{"name": "other"})
	wantError(t, c.do("PUT", "/auth-providers/corp", map[string]any{"name": "other"}), http.StatusConflict, "conflict")
	for _, rt := range []struct{ method, path string }{{"GET", "/auth-providers/nope"}, {"PUT", "/auth-providers/nope"}, {"DELETE", "/auth-providers/nope"}} {
		wantError(t, c.do(rt.method, rt.path, map[string]any{}), http.StatusNotFound, "not_found")
	}
	c.must(http.StatusNoContent, "DELETE", "/auth-providers/corp", nil)
	wantError(t, c.do("GET", "/auth-providers/"+pid, nil), http.StatusNotFound, "not_found")
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}
